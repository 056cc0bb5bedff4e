using System.Diagnostics;
using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// Blocking workers (<c>Thread.Sleep</c>) on threads 10, ours against an ActionBlock with MaxDegreeOfParallelism
/// 10 (BoundedCapacity 1024) fed by SendAsync, each run in a fresh child process of its own: the thread pool only
/// grows, so a run in this process would find the threads earlier cases made.
/// <list type="bullet">
/// <item>500 x Thread.Sleep(20), the child's first run (JIT and thread start-up included): target at most 1.07 s
/// (ideal 1.00 s).</item>
/// <item>10 x Thread.Sleep(100), warm: the child first does the same run once, then the timed one: target at most
/// 0.11 s.</item>
/// </list>
/// </summary>
internal sealed class BlockingSleepCase : IQuickCase
{
    private const int Threads = 10;
    private const int Samples = 3;

    /// <inheritdoc/>
    public string Name => "sleep";

    /// <inheritdoc/>
    public IEnumerable<Row> Run(QuickSettings settings)
    {
        yield return Compare(settings, 500, 20, warm: false, targetSeconds: 1.07, "ideal 1.00 s");
        yield return Compare(settings, 10, 100, warm: true, targetSeconds: 0.11, "ideal 0.10 s");
    }

    /// <summary>
    /// Child entry: args are side (ours or dataflow), item count, sleep in ms, and warm (1: run once untimed first).
    /// Returns the wall time of the timed run in seconds.
    /// </summary>
    /// <param name="args">The arguments.</param>
    /// <returns>One value: seconds.</returns>
    public static double[] Child(string[] args)
    {
        var ours = args[0] == "ours";
        int n = ChildProcess.Int(args[1]), ms = ChildProcess.Int(args[2]);
        if (args[3] == "1")
        {
            _ = ours ? RunOurs(n, ms) : RunDataflow(n, ms);
        }

        return [ours ? RunOurs(n, ms) : RunDataflow(n, ms)];
    }

    private static double RunOurs(int n, int ms)
    {
        long firstCall = 0, lastReturn = 0;
        var workers = Workers.Of<int>().Then(
            (int _) =>
            {
                Interlocked.CompareExchange(ref firstCall, Stopwatch.GetTimestamp(), 0);
                Thread.Sleep(ms);
                Volatile.Write(ref lastReturn, Stopwatch.GetTimestamp());
            },
            threads: Threads);
        var start = Stopwatch.GetTimestamp();
        var result = JobQueue.Run(Chains.Items(n), workers);
        var end = Stopwatch.GetTimestamp();
        if (!result.Completed)
        {
            throw new InvalidOperationException("Run did not complete.");
        }

        // Where the time over the ideal goes, on stderr with the progress.
        Console.Error.WriteLine(Measure.Invariant(
            $"      ours {n} x {ms} ms: first call after {Ms(start, firstCall):F1} ms, last call returned at {Ms(start, lastReturn):F1} ms, Run returned at {Ms(start, end):F1} ms"));
        return Stopwatch.GetElapsedTime(start, end).TotalSeconds;
    }

    private static double RunDataflow(int n, int ms) => Measure.Seconds(() => RunDataflowAsync(n, ms).GetAwaiter().GetResult());

    private static async Task RunDataflowAsync(int n, int ms)
    {
        var block = new ActionBlock<int>(_ => Thread.Sleep(ms), Chains.Options(Threads, ordered: false));
        foreach (var x in Chains.Items(n))
        {
            await block.SendAsync(x).ConfigureAwait(false);
        }

        block.Complete();
        await block.Completion.ConfigureAwait(false);
    }

    private static double Ms(long start, long end) => Stopwatch.GetElapsedTime(start, end).TotalMilliseconds;

    private static Row Compare(QuickSettings settings, int items, int ms, bool warm, double targetSeconds, string ideal)
    {
        int n = settings.Size(items), samples = settings.Samples(Samples);
        var warmArg = warm ? "1" : "0";
        var medians = Measure.Alternate(
            samples,
            () => ChildProcess.Launch("noop"),
            new Contender("ours", () => ChildProcess.Launch("sleep", "ours", ChildProcess.Arg(n), ChildProcess.Arg(ms), warmArg)[0]),
            new Contender("Dataflow", () => ChildProcess.Launch("sleep", "dataflow", ChildProcess.Arg(n), ChildProcess.Arg(ms), warmArg)[0]));
        double ours = medians[0], dataflow = medians[1];
        var process = warm ? "warm: after the same run once in the same fresh process" : "the first run of a fresh process";
        return new Row(
            $"{n} x Thread.Sleep({ms} ms), threads {Threads}, {process} (wall time, median of {samples}; Dataflow: ActionBlock MaxDegreeOfParallelism {Threads}, its own fresh processes)",
            Measure.Time(ours),
            $"Dataflow {Measure.Time(dataflow)}",
            Measure.Ratio(dataflow / ours),
            Measure.Invariant($"<= {targetSeconds:0.00} s ({ideal})"),
            Measure.Met(ours <= targetSeconds));
    }
}
