using System.Diagnostics;
using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// Async at scale, in a fresh process each: 10,000 items of <c>await Task.Delay(10)</c> on an async stage of
/// threads 10,000. The worker tracks the most calls in progress at once (Interlocked); a sampler thread reads
/// Process.Threads.Count every 5 ms during the run and keeps the maximum. Targets: at least 5,000 calls in progress
/// at once, done in under 2 s, fewer than 150 threads in the process. The baseline, for reference, is an async
/// ActionBlock with MaxDegreeOfParallelism and BoundedCapacity 10,000 in its own fresh processes.
/// </summary>
internal sealed class AsyncScaleCase : IQuickCase
{
    private const int Items = 10_000;
    private const int Threads = 10_000;
    private const int DelayMs = 10;
    private const int Samples = 3;
    private const int MinInProgress = 5_000;
    private const double MaxSeconds = 2;
    private const int MaxProcessThreads = 150;

    /// <inheritdoc/>
    public string Name => "async-scale";

    /// <inheritdoc/>
    public IEnumerable<Row> Run(QuickSettings settings)
    {
        int n = settings.Size(Items), threads = settings.Size(Threads), samples = settings.Samples(Samples);
        var ours = new List<double[]>();
        var dataflow = new List<double[]>();
        string[] Args(string side) => ["async-scale", side, ChildProcess.Arg(n), ChildProcess.Arg(threads)];
        Measure.Alternate(
            samples,
            () => ChildProcess.Launch("noop"),
            new Contender("ours (s)", () => Keep(ours, ChildProcess.Launch(Args("ours")))),
            new Contender("Dataflow (s)", () => Keep(dataflow, ChildProcess.Launch(Args("dataflow")))));
        var (seconds, inProgress, processThreads) = Medians(ours);
        var (baseSeconds, baseInProgress, baseThreads) = Medians(dataflow);
        yield return new Row(
            Measure.Invariant($"{QuickSettings.Count(n)} items x await Task.Delay({DelayMs}), async stage threads {threads:N0}, fresh process each: wall time; most calls in progress at once; most threads in the process (medians of {samples}; Dataflow: ActionBlock MaxDegreeOfParallelism {threads:N0})"),
            Summary(seconds, inProgress, processThreads),
            "Dataflow " + Summary(baseSeconds, baseInProgress, baseThreads),
            Measure.Ratio(baseSeconds / seconds),
            Measure.Invariant($">= {MinInProgress:N0} in progress, < {MaxSeconds:0} s, < {MaxProcessThreads} threads"),
            Measure.Met(inProgress >= MinInProgress && seconds < MaxSeconds && processThreads < MaxProcessThreads));
    }

    /// <summary>Child entry: args are side (ours or dataflow), item count and threads.</summary>
    /// <param name="args">The arguments.</param>
    /// <returns>Seconds, the most calls in progress at once, the most threads in the process.</returns>
    public static double[] Child(string[] args)
    {
        int n = ChildProcess.Int(args[1]), threads = ChildProcess.Int(args[2]);
        var counter = new ConcurrencyCounter();
        using var sampler = new ThreadCountSampler();
        var seconds = Measure.Seconds(() =>
        {
            if (args[0] == "ours")
            {
                var result = JobQueue.Run(Chains.Items(n), Workers.Of<int>().Then(counter.Work, threads: threads));
                if (!result.Completed || counter.Done != n)
                {
                    throw new InvalidOperationException($"Run did not complete all {n} calls.");
                }
            }
            else
            {
                RunDataflow(n, threads, counter).GetAwaiter().GetResult();
            }
        });
        return [seconds, counter.MaxInProgress, sampler.Stop()];
    }

    private static async Task RunDataflow(int n, int threads, ConcurrencyCounter counter)
    {
        var block = new ActionBlock<int>(
            counter.Work,
            new ExecutionDataflowBlockOptions { MaxDegreeOfParallelism = threads, BoundedCapacity = threads });
        foreach (var x in Chains.Items(n))
        {
            await block.SendAsync(x).ConfigureAwait(false);
        }

        block.Complete();
        await block.Completion.ConfigureAwait(false);
    }

    private static double Keep(List<double[]> all, double[] values)
    {
        all.Add(values);
        Console.Error.WriteLine(Measure.Invariant($"      child: {values[0]:F3} s, {values[1]:N0} in progress at most, {values[2]:N0} threads at most"));
        return values[0];
    }

    private static (double Seconds, double InProgress, double Threads) Medians(List<double[]> all)
        => (Measure.Median(all.Select(v => v[0])), Measure.Median(all.Select(v => v[1])), Measure.Median(all.Select(v => v[2])));

    private static string Summary(double seconds, double inProgress, double threads)
        => Measure.Invariant($"{Measure.Time(seconds)}; {inProgress:N0} at once; {threads:N0} threads");

    /// <summary>The worker: awaits the delay and counts calls in progress, the most at once, and calls done.</summary>
    private sealed class ConcurrencyCounter
    {
        private int _inProgress;
        private int _maxInProgress;
        private int _done;

        /// <summary>Gets the most calls that were in progress at once.</summary>
        public int MaxInProgress => Volatile.Read(ref _maxInProgress);

        /// <summary>Gets the number of calls that finished.</summary>
        public int Done => Volatile.Read(ref _done);

        /// <summary>The worker.</summary>
        /// <param name="x">The item.</param>
        /// <returns>The call.</returns>
        public async Task Work(int x)
        {
            var now = Interlocked.Increment(ref _inProgress);
            var max = Volatile.Read(ref _maxInProgress);
            while (now > max && Interlocked.CompareExchange(ref _maxInProgress, now, max) != max)
            {
                max = Volatile.Read(ref _maxInProgress);
            }

            await Task.Delay(DelayMs).ConfigureAwait(false);
            Interlocked.Decrement(ref _inProgress);
            Interlocked.Increment(ref _done);
        }
    }

    /// <summary>A dedicated thread that reads the process's thread count every 5 ms and keeps the maximum.</summary>
    private sealed class ThreadCountSampler : IDisposable
    {
        private readonly Thread _thread;
        private readonly ManualResetEventSlim _stop = new(false);
        private int _max;

        /// <summary>Initializes a new instance of the <see cref="ThreadCountSampler"/> class and starts sampling.</summary>
        public ThreadCountSampler()
        {
            _max = Count();
            _thread = new Thread(Sample) { IsBackground = true, Name = "thread-count sampler" };
            _thread.Start();
        }

        /// <summary>Stops sampling, takes a last sample and returns the maximum seen.</summary>
        /// <returns>The most threads the process had at one sample.</returns>
        public int Stop()
        {
            _stop.Set();
            _thread.Join();
            return Math.Max(_max, Count());
        }

        /// <summary>Stops the sampler if it still runs and releases the event.</summary>
        public void Dispose()
        {
            _stop.Set();
            _thread.Join();
            _stop.Dispose();
        }

        private static int Count()
        {
            using var process = Process.GetCurrentProcess();
            return process.Threads.Count;
        }

        private void Sample()
        {
            while (!_stop.Wait(5))
            {
                _max = Math.Max(_max, Count());
            }
        }
    }
}
