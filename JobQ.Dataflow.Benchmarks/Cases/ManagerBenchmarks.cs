using System.Diagnostics;
using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// JobManager: the per-item cost of Put + Join against JobQueue.Run of the same chain, how fast SetThreadNum takes
/// effect (growing and shrinking), and the latency of one item put into an idle manager.
/// </summary>
[MemoryDiagnoser]
public class ManagerBenchmarks
{
    private const int N = 1_000_000;
    private const int Resizes = 20;
    private const int LatencySamples = 200;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public long Run() => Chains.Ours(N);

    [Benchmark(OperationsPerInvoke = N)]
    public long PutJoin() => RunManager(N);

    internal static IEnumerable<Row> Quick()
    {
        RunManager(100_000);
        Chains.Ours(100_000);
        var putLoop = new List<double>();
        var (manager, run) = Measure.Alternate(
            QuickRunner.Repetitions,
            () => Measure.Seconds(() => RunManager(N, putLoop.Add)),
            () => Measure.Seconds(() => Chains.Ours(N)));
        yield return new Row(
            "JobManager Put + Join, 1M items add1 -> multi2 -> sum (cost per item; baseline: JobQueue.Run of the same chain)",
            Measure.Ns(manager / N),
            Measure.Ns(run / N),
            Measure.Ratio(run / manager),
            "not above Run (>= 1.0x)",
            Measure.Met(manager <= run));
        yield return new Row(
            "JobManager breakdown: of the Put + Join runs above, the Put loop alone (one thread, until the last Put returns)",
            Measure.Ns(Measure.Median(putLoop) / N),
            "-",
            "-",
            "-",
            "-");

        // One trivial stage: the workers are faster than any put, so this is what a put itself costs.
        RunOneStage(100_000, manager: true);
        RunOneStage(100_000, manager: false);
        var (oneManager, oneRun) = Measure.Alternate(
            QuickRunner.Repetitions,
            () => Measure.Seconds(() => RunOneStage(N, manager: true)),
            () => Measure.Seconds(() => RunOneStage(N, manager: false)));
        yield return new Row(
            "JobManager Put + Join, 1M items into one trivial stage (cost per item; baseline: JobQueue.Run of the same stage)",
            Measure.Ns(oneManager / N),
            Measure.Ns(oneRun / N),
            Measure.Ratio(oneRun / oneManager),
            "-",
            "-");

        var (grow, shrink) = ResizeLatency();
        yield return new Row(
            $"SetThreadNum 1 -> 4 on a gated sync stage: SetThreadNum returned -> 4 calls in progress (median of {Resizes})",
            Measure.Time(grow),
            "-",
            "-",
            "<= 10 ms",
            Measure.Met(grow <= 0.010));
        yield return new Row(
            $"SetThreadNum 4 -> 1: SetThreadNum returned (gate then opened) -> the 4 calls done and 1 in progress (median of {Resizes})",
            Measure.Time(shrink),
            "-",
            "-",
            "<= 10 ms",
            Measure.Met(shrink <= 0.010));

        var ours = OursLatency();
        var baseline = DataflowLatency();
        yield return new Row(
            $"One item into an idle JobManager, 3 stages, until it reaches the last stage (median of {LatencySamples}; Dataflow: Post into idle blocks)",
            Measure.Time(ours),
            Measure.Time(baseline),
            Measure.Ratio(baseline / ours),
            "<= 1 ms",
            Measure.Met(ours <= 0.001));
    }

    private static long RunManager(int n, Action<double>? putLoopSeconds = null)
    {
        var sum = new Summer();
        PutAllAndJoin(Chains.OursWorkers(1, sum), n, putLoopSeconds);
        return Chains.Check(sum.Total, n);
    }

    private static long RunOneStage(int n, bool manager)
    {
        var sum = new Summer();
        var workers = Workers.Of<int>().Then(sum.Add);
        if (manager)
        {
            PutAllAndJoin(workers, n);
        }
        else if (!JobQueue.Run(Enumerable.Range(0, n), workers).Completed)
        {
            throw new InvalidOperationException("Run did not complete.");
        }

        return sum.Total == (long)n * (n - 1) / 2 ? sum.Total : throw new InvalidOperationException($"Wrong sum {sum.Total}.");
    }

    /// <summary>Puts 0..n-1 into a new manager one at a time, then joins it.</summary>
    private static void PutAllAndJoin<TOut>(Workers<int, TOut> workers, int n, Action<double>? putLoopSeconds = null)
    {
        using var manager = JobManager.Create(workers);
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < n; i++)
        {
            manager.Put(i);
        }

        putLoopSeconds?.Invoke(Stopwatch.GetElapsedTime(start).TotalSeconds);
        if (!manager.Join())
        {
            throw new InvalidOperationException("Join did not complete.");
        }
    }

    private static (double Grow, double Shrink) ResizeLatency()
    {
        var gated = new GatedWorker();
        Func<int, int> hold = gated.Hold;
        using var manager = JobManager.Create(Workers.Of<int>().Then(hold).Then((int _) => { }));
        for (var i = 0; i < 1000; i++)
        {
            manager.Put(i);
        }

        WaitUntil(() => gated.InProgress == 1);
        var grow = new List<double>();
        var shrink = new List<double>();
        for (var r = 0; r < Resizes; r++)
        {
            manager.SetThreadNum(hold, 4);
            var start = Stopwatch.GetTimestamp();
            grow.Add(WaitUntil(() => gated.InProgress == 4, start));

            var completed = gated.Completed;
            var open = gated.SwapGate(open: false);
            manager.SetThreadNum(hold, 1);
            start = Stopwatch.GetTimestamp();
            open.Set();
            shrink.Add(WaitUntil(() => gated.Completed == completed + 4 && gated.InProgress == 1, start));
        }

        gated.SwapGate(open: true).Set();
        if (!manager.Join(Bound))
        {
            throw new InvalidOperationException("Join timed out.");
        }

        return (Measure.Median(grow), Measure.Median(shrink));
    }

    /// <summary>Polls without sleeping (Thread.Yield leaves the core to the workers) and returns the seconds since <paramref name="start"/>.</summary>
    private static double WaitUntil(Func<bool> condition, long start = 0)
    {
        var bound = Stopwatch.GetTimestamp();
        while (!condition())
        {
            if (Stopwatch.GetElapsedTime(bound) > Bound)
            {
                throw new TimeoutException("The resize never took effect.");
            }

            Thread.Yield();
        }

        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private static double OursLatency()
    {
        using var probe = new LatencyProbe();
        using var manager = JobManager.Create(Workers.Of<int>().Then(Chains.Add1).Then(Chains.Multi2).Then(probe.Reached));
        var latency = probe.Sample(manager.Put);
        return manager.Join(Bound) ? latency : throw new InvalidOperationException("Join timed out.");
    }

    private static double DataflowLatency()
    {
        using var probe = new LatencyProbe();
        var link = new DataflowLinkOptions { PropagateCompletion = true };
        var add1 = new TransformBlock<int, int>(Chains.Add1, Chains.Options(1, ordered: false));
        var multi2 = new TransformBlock<int, int>(Chains.Multi2, Chains.Options(1, ordered: false));
        var last = new ActionBlock<int>(probe.Reached, Chains.Options(1, ordered: false));
        add1.LinkTo(multi2, link);
        multi2.LinkTo(last, link);
        var latency = probe.Sample(x => add1.Post(x));
        add1.Complete();
        return last.Completion.Wait(Bound) ? latency : throw new InvalidOperationException("Dataflow did not complete.");
    }

    /// <summary>A sync worker that holds every call on the current gate and counts calls in progress and done.</summary>
    private sealed class GatedWorker
    {
        private ManualResetEventSlim _gate = new(false);
        private int _inProgress;
        private int _completed;

        public int InProgress => Volatile.Read(ref _inProgress);

        public int Completed => Volatile.Read(ref _completed);

        public int Hold(int x)
        {
            var gate = Volatile.Read(ref _gate);
            Interlocked.Increment(ref _inProgress);
            gate.Wait();
            Interlocked.Decrement(ref _inProgress);
            Interlocked.Increment(ref _completed);
            return x;
        }

        /// <summary>Installs a new gate for calls that start from now on and returns the old one.</summary>
        public ManualResetEventSlim SwapGate(bool open) => Interlocked.Exchange(ref _gate, new ManualResetEventSlim(open));
    }

    /// <summary>Puts one item at a time into an idle pipeline and times its arrival at the last stage.</summary>
    private sealed class LatencyProbe : IDisposable
    {
        private readonly ManualResetEventSlim _reached = new(false);
        private long _reachedAt;

        public void Reached(int x)
        {
            Volatile.Write(ref _reachedAt, Stopwatch.GetTimestamp());
            _reached.Set();
        }

        public double Sample(Action<int> put)
        {
            var samples = new List<double>();
            for (var i = -20; i < LatencySamples; i++)
            {
                Thread.Sleep(5); // workload pacing, not synchronisation: lets every stage go idle before the next item
                _reached.Reset();
                var start = Stopwatch.GetTimestamp();
                put(i);
                if (!_reached.Wait(Bound))
                {
                    throw new TimeoutException("The item never reached the last stage.");
                }

                if (i >= 0)
                {
                    samples.Add(Stopwatch.GetElapsedTime(start, Volatile.Read(ref _reachedAt)).TotalSeconds);
                }
            }

            return Measure.Median(samples);
        }

        public void Dispose() => _reached.Dispose();
    }
}
