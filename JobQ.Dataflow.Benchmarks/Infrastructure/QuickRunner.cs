using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using JobQ.Dataflow.Benchmarks.Cases;

namespace JobQ.Dataflow.Benchmarks.Infrastructure;

/// <summary>
/// The quick mode: every case side by side with its baseline in this one process (or in fresh child processes
/// where the case needs one), medians of a few repetitions, printed as a markdown table on stdout. Progress goes
/// to stderr so stdout can be saved as is.
/// </summary>
internal static class QuickRunner
{
    public const int Repetitions = 7;

    private static readonly (string Name, Func<IEnumerable<Row>> Run)[] Cases =
    [
        ("chain", ChainBenchmarks.Quick),
        ("hops", HopBreakdownCases.Quick),
        ("fused", FusedChainBenchmarks.Quick),
        ("dispatcher", DispatcherBenchmarks.Quick),
        ("blocking", BlockingCases.Quick),
        ("async", AsyncDelayBenchmarks.Quick),
        ("memory", MemoryCases.Quick),
        ("speedlimit", SpeedLimitCases.Quick),
        ("manager", ManagerBenchmarks.Quick),
    ];

    public static int Run(string? only)
    {
        var selected = Cases.Where(c => only is null || c.Name == only).ToArray();
        if (selected.Length == 0)
        {
            Console.Error.WriteLine($"Unknown case '{only}'. Cases: {string.Join(", ", Cases.Select(c => c.Name))}.");
            return 1;
        }

        var total = Stopwatch.StartNew();
        var rows = new List<Row>();
        foreach (var (name, run) in selected)
        {
            var start = Stopwatch.GetTimestamp();
            Console.Error.WriteLine($"[{total.Elapsed:mm\\:ss}] {name}...");
            foreach (var row in run())
            {
                Console.Error.WriteLine($"    {row.Case}: {row.Ours} vs {row.Baseline}");
                rows.Add(row);
            }

            Console.Error.WriteLine($"    ({Stopwatch.GetElapsedTime(start).TotalSeconds:F1} s)");
        }

        Print(rows, total.Elapsed);
        return 0;
    }

    // Other work on the machine skews every figure; the table says how busy it was.
    private static string LoadAverage() => File.Exists("/proc/loadavg")
        ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3))
        : "n/a";

    private static void Print(List<Row> rows, TimeSpan elapsed)
    {
        var date = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
        Console.WriteLine("## JobQ.Dataflow quick benchmark");
        Console.WriteLine();
        Console.WriteLine($"Command: `dotnet run -c Release --project JobQ.Dataflow.Benchmarks -- --quick`  ");
        Console.WriteLine($"Date: {date}; cores (Environment.ProcessorCount): {Environment.ProcessorCount}; "
            + $"{RuntimeInformation.FrameworkDescription}; {RuntimeInformation.OSDescription.Trim()}; "
            + $"median of {Repetitions} unless noted; whole run {elapsed.TotalSeconds:F0} s; load average at the end: {LoadAverage()}.");
        Console.WriteLine();
        Console.WriteLine("| case | ours | baseline | ratio | target | met |");
        Console.WriteLine("|---|---:|---:|---:|---|:-:|");
        foreach (var row in rows)
        {
            Console.WriteLine($"| {row.Case} | {row.Ours} | {row.Baseline} | {row.Ratio} | {row.Target} | {row.Met} |");
        }

        Console.WriteLine();
        Console.WriteLine("Ratio: how many times better ours is than the baseline (throughput ours/baseline, time or "
            + "bytes baseline/ours), unless the row says otherwise. Baselines: \"Dataflow\" is the same chain hand-written "
            + "with per-item TransformBlock/ActionBlock (BoundedCapacity 1024, PropagateCompletion); \"Akka\" is "
            + "Akka.Streams with a fused graph.");
    }
}
