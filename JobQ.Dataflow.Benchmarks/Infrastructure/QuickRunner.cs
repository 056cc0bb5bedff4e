using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using JobQ.Dataflow.Benchmarks.Cases;

namespace JobQ.Dataflow.Benchmarks.Infrastructure;

/// <summary>
/// The quick mode: every case side by side with its baseline in this one process (or in fresh child processes
/// where the case needs one), medians of alternating runs, printed as one markdown table on stdout. Progress and
/// raw samples go to stderr, so stdout can be saved as is.
/// </summary>
internal static class QuickRunner
{
    // The order matters: the throughput cases run first, while the process has only the threads it started with;
    // the cases that need a process of their own come last (their children do not touch this process).
    private static readonly IQuickCase[] Cases =
    [
        new SerialChainCase(),
        new ParallelChainCase(),
        new AllocationCase(),
        new DispatcherCase(),
        new ManagerCase(),
        new IdleLatencyCase(),
        new ResizeCase(),
        new AsyncDelayCase(),
        new SpeedLimitCase(),
        new BlockingSleepCase(),
        new MemoryCase(),
        new AsyncScaleCase(),
        new WorkloadsCase(),
    ];

    /// <summary>Runs the selected cases and prints (and optionally writes) the table.</summary>
    /// <param name="settings">The parsed options.</param>
    /// <returns>The process exit code: 0; 1 if no case matched <c>--only</c>; 3 if a case failed (the table is still printed).</returns>
    public static int Run(QuickSettings settings)
    {
        var selected = Cases
            .Where(c => settings.Only is null || c.Name.Contains(settings.Only, StringComparison.OrdinalIgnoreCase))
            .ToArray();
        if (selected.Length == 0)
        {
            Console.Error.WriteLine($"No case matches '{settings.Only}'. Cases: {string.Join(", ", Cases.Select(c => c.Name))}.");
            return 1;
        }

        var loadBefore = LoadAverage();
        var total = Stopwatch.StartNew();
        var rows = new List<Row>();
        var failed = 0;
        foreach (var quickCase in selected)
        {
            var start = Stopwatch.GetTimestamp();
            Console.Error.WriteLine($"[{total.Elapsed:mm\\:ss}] {quickCase.Name}...");
            var (caseRows, ok) = RunCase(quickCase, settings);
            failed += ok ? 0 : 1;
            foreach (var row in caseRows)
            {
                Console.Error.WriteLine($"    {row.Case}: {row.Ours} | {row.Baselines} | {row.Ratio} | {row.Met}");
                rows.Add(row);
            }

            Console.Error.WriteLine(Measure.Invariant($"    ({Stopwatch.GetElapsedTime(start).TotalSeconds:F1} s)"));
        }

        var table = Format(settings, rows, total.Elapsed, loadBefore);
        Console.Write(table);
        if (settings.OutputPath is { } path)
        {
            File.WriteAllText(path, table);
            Console.Error.WriteLine($"Table written to {path}.");
        }

        return failed == 0 ? 0 : 3;
    }

    // The engine under test changes under these cases: one that throws (a wrong sum, a lost item, a child that
    // failed or timed out) becomes a failed row, and the rest of the table is still measured.
    private static (List<Row> Rows, bool Ok) RunCase(IQuickCase quickCase, QuickSettings settings)
    {
        var rows = new List<Row>();
        try
        {
            foreach (var row in quickCase.Run(settings))
            {
                rows.Add(row);
            }
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"    {quickCase.Name} failed: {e}");
            var message = e.Message.ReplaceLineEndings(" ").Replace("|", "/", StringComparison.Ordinal);
            rows.Add(new Row($"{quickCase.Name}: the case failed after {rows.Count} row(s)", "-", "-", "-", "-", $"**no** ({e.GetType().Name}: {message})"));
            return (rows, false);
        }

        return (rows, true);
    }

    // Other work on the machine skews every figure; the header says how busy it was.
    private static string LoadAverage() => File.Exists("/proc/loadavg")
        ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3))
        : "n/a";

    private static string Format(QuickSettings settings, List<Row> rows, TimeSpan elapsed, string loadBefore)
    {
        var text = new StringBuilder();
        void Line(string line = "") => text.Append(line).Append('\n');

#if DEBUG
        const string configuration = "Debug (figures are not comparable; use -c Release)";
#else
        const string configuration = "Release";
#endif
        Line("## JobQ.Dataflow quick benchmark");
        Line();
        Line($"Command: `dotnet run -c Release --project JobQ.Dataflow.Benchmarks -- {string.Join(' ', settings.Arguments)}`  ");
        Line(Measure.Invariant($"Machine: Environment.ProcessorCount {Environment.ProcessorCount}; runtime {RuntimeInformation.FrameworkDescription} ({RuntimeInformation.RuntimeIdentifier}); OS {RuntimeInformation.OSDescription.Trim()}; build {configuration}; server GC {System.Runtime.GCSettings.IsServerGC}.  "));
        Line(Measure.Invariant($"Run: {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture)}; whole run {elapsed.TotalSeconds:F0} s; load average (1, 5, 15 min) before {loadBefore}, after {LoadAverage()}."));
        if (settings.Smoke)
        {
            Line();
            Line("**Smoke run (`--smoke`): every size divided by 100 and at most 2 samples per figure. It checks that every case works; its figures are not measurements and the met column means nothing.**");
        }

        Line();
        Line("| case | JobQ.Dataflow | baseline(s) | ratio | target | met? |");
        Line("|---|---:|---:|---:|---|:-:|");
        foreach (var row in rows)
        {
            Line($"| {row.Case} | {row.Ours} | {row.Baselines} | {row.Ratio} | {row.Target} | {row.Met} |");
        }

        Line();
        Line("Samples alternate ours and the baseline(s) in the same process (fresh processes where the row says so), after a warm-up, each sample after a full GC and a 50 ms settle; figures are medians. "
            + "Ratio: how many times faster (or leaner) ours is than the baseline (baseline time / our time), unless the cell says \"ours / baseline\". "
            + "Baselines: \"Dataflow\" is the same work hand-written with per-item TPL Dataflow blocks (BoundedCapacity 1024, PropagateCompletion, fed by SendAsync from the same enumerable); "
            + "\"Akka\" is Akka.Streams (Source.From(enumerable).Select.Select.RunWith(Sink.Aggregate), one materializer for the whole case).");
        return text.ToString();
    }
}
