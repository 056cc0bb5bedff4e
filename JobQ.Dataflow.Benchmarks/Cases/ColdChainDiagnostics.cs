using System.Diagnostics;
using System.Globalization;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// A diagnostic, not in the table (<c>--child cold-chain COUNT [ours-small|dataflow-small]...</c>): the 1M chain run
/// several times in a fresh process, watched, to tell engine stalls from a machine that starves the process.
/// </summary>
internal static class ColdChainDiagnostics
{
    /// <summary>
    /// Runs the 1M chain COUNT times, after the optional small warm-up runs, and prints each time on stderr (try it
    /// with DOTNET_TieredCompilation=0 to see JIT tiering apart). Returns the first run's seconds.
    /// </summary>
    public static double Child(string[] args)
    {
        foreach (var warmUp in args.Skip(1))
        {
            // e.g. "ours-small" or "dataflow-small": what ran before the measured runs.
            _ = warmUp == "dataflow-small" ? Chains.Dataflow(100_000, 4, ordered: true) : Chains.Ours(100_000, 4, keepOrder: true);
        }

        var times = Enumerable.Range(0, ChildProcess.Int(args[0])).Select(_ => Measure.Seconds(WatchedChain)).ToArray();
        Console.Error.WriteLine($"      cold-chain 1M runs: [{string.Join(", ", times.Select(t => t.ToString("F3", CultureInfo.InvariantCulture)))}] s");
        return times[0];
    }

    // The 1M chain with a watcher: every 100 ms, items in so far and the process's CPU time, printed if the run is
    // slow, to tell a stalled engine (CPU spent, no items) from a starved process (neither moves).
    private static void WatchedChain()
    {
        var probe = new Probe();
        var sum = new Summer();
        var trace = new List<string>();
        var start = Stopwatch.GetTimestamp();
        using var done = new ManualResetEventSlim();
        var watcher = new Thread(() =>
        {
            while (!done.Wait(100))
            {
                var (cpu, voluntary, involuntary) = ProcessUsage.Read();
                trace.Add(string.Create(CultureInfo.InvariantCulture, $"{Stopwatch.GetElapsedTime(start).TotalMilliseconds:F0} ms: in {JobQueue.Stat(probe).In}, cpu {cpu:F3} s, switches {voluntary}/{involuntary}"));
            }
        });
        watcher.Start();
        JobQueue.Run(Enumerable.Range(0, 1_000_000), Chains.OursWorkers(1, sum), probe: probe);
        done.Set();
        watcher.Join();
        Chains.Check(sum.Total, 1_000_000);
        if (Stopwatch.GetElapsedTime(start).TotalSeconds > 0.5)
        {
            Console.Error.WriteLine("      slow run: " + string.Join("; ", trace));
        }
    }
}
