using System.Diagnostics;
using System.Globalization;
using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// Blocking workers (Thread.Sleep as the workload) on threads: 10, ours against one ActionBlock with
/// MaxDegreeOfParallelism 10. Each run is alone in a fresh child process: the thread pool only grows, so a second
/// run in the same process would find the threads the first one made. The 10 x 100 ms case is shown twice: as the
/// process's first run, where compiling the engine's code is most of the time over 100 ms, and after a 1-item run on
/// one thread has compiled it, which measures whether all ten calls start at once.
/// </summary>
internal static class BlockingCases
{
    private const int Threads = 10;
    private const int ChildRepetitions = 3;

    public static IEnumerable<Row> Quick()
    {
        yield return Compare(500, 20, warm: false, 1.05);
        yield return Compare(10, 100, warm: false, targetSeconds: null);
        yield return Compare(10, 100, warm: true, 0.11);
    }

    /// <summary>Child entry: args are item count and sleep in ms; returns the wall time of the run in seconds.</summary>
    public static double OursChild(string[] args)
    {
        int n = ChildProcess.Int(args[0]), ms = ChildProcess.Int(args[1]);
        if (IsWarm(args))
        {
            // One 1-item run on threads 1 first compiles the engine (and lets the meter be created) while starting only
            // two threads, so the measured run still starts eight new ones: what is left is the concurrency alone.
            JobQueue.Run([0], Workers.Of<int>().Then(x => x));
            JobQ.Dataflow.Internal.JobMetrics.EnsureCreated(wait: true);
        }

        long firstCall = 0, lastReturn = 0;
        var workers = Workers.Of<int>().Then(
            x =>
            {
                Interlocked.CompareExchange(ref firstCall, Stopwatch.GetTimestamp(), 0);
                Thread.Sleep(ms);
                Volatile.Write(ref lastReturn, Stopwatch.GetTimestamp());
                return x;
            },
            Threads);
        var start = Stopwatch.GetTimestamp();
        JobQueue.Run(Enumerable.Range(0, n), workers);
        var end = Stopwatch.GetTimestamp();

        // A breakdown on stderr (shown with the quick mode's progress): where the time over the ideal goes. The
        // floor is the same number of sleeps back to back on one thread, after the run: what Thread.Sleep itself
        // overshoots on this machine at this moment.
        var floor = Measure.Seconds(() =>
        {
            for (var i = 0; i < n / Threads; i++)
            {
                Thread.Sleep(ms);
            }
        });
        Console.Error.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"      child {n} x {ms} ms: first call after {Ms(start, firstCall):F1} ms, last call returned at {Ms(start, lastReturn):F1} ms, Run returned at {Ms(start, end):F1} ms; {n / Threads} sleeps back to back on one thread: {floor * 1e3:F1} ms"));
        return Stopwatch.GetElapsedTime(start, end).TotalSeconds;
    }

    private static double Ms(long start, long end) => Stopwatch.GetElapsedTime(start, end).TotalMilliseconds;

    public static double DataflowChild(string[] args)
    {
        int n = ChildProcess.Int(args[0]), ms = ChildProcess.Int(args[1]);
        if (IsWarm(args))
        {
            // The same warm-up as ours: one item through a block of parallelism 1.
            RunDataflow(1, 0, threads: 1).GetAwaiter().GetResult();
        }

        return Measure.Seconds(() => RunDataflow(n, ms, Threads).GetAwaiter().GetResult());
    }

    private static bool IsWarm(string[] args) => args.Length > 2 && args[2] == "warm";

    private static async Task RunDataflow(int n, int ms, int threads)
    {
        var block = new ActionBlock<int>(_ => Thread.Sleep(ms), Chains.Options(threads, ordered: false));
        for (var i = 0; i < n; i++)
        {
            await block.SendAsync(i).ConfigureAwait(false);
        }

        block.Complete();
        await block.Completion.ConfigureAwait(false);
    }

    private static Row Compare(int n, int ms, bool warm, double? targetSeconds)
    {
        string[] args = [n.ToString(CultureInfo.InvariantCulture), ms.ToString(CultureInfo.InvariantCulture), .. warm ? new[] { "warm" } : []];
        var (ours, baseline) = Measure.Alternate(
            ChildRepetitions,
            () => ChildProcess.Launch(["sleep-ours", .. args]),
            () => ChildProcess.Launch(["sleep-dataflow", .. args]));
        var process = warm
            ? "fresh process each, code compiled by a 1-item run on threads 1 first"
            : "fresh process each, first run (JIT included)";
        return new Row(
            $"{n} items x Thread.Sleep({ms} ms), threads 10, {process} (wall time, median of {ChildRepetitions}; Dataflow MaxDegreeOfParallelism 10)",
            Measure.Time(ours),
            Measure.Time(baseline),
            Measure.Ratio(baseline / ours),
            targetSeconds is { } target ? $"<= {target:0.00} s" : "-",
            targetSeconds is { } met ? Measure.Met(ours <= met) : "-");
    }
}
