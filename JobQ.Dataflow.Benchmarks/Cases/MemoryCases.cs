using System.Diagnostics;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// 10 M items streamed lazily through three stages: the peak working set of a fresh process that did only this,
/// against the same for 1 M items. The input is read as room frees, so the peak must not grow with the count.
/// </summary>
internal static class MemoryCases
{
    private const int Large = 10_000_000;
    private const int Small = 1_000_000;
    private const double Mb = 1 << 20;

    public static IEnumerable<Row> Quick()
    {
        var large = ChildProcess.Launch("memory", Large.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var small = ChildProcess.Launch("memory", Small.ToString(System.Globalization.CultureInfo.InvariantCulture));
        yield return new Row(
            "Peak working set, 10M items lazily through 3 stages (ours) vs the same with 1M items (fresh process each, one run; ratio = 10M / 1M)",
            Measure.Bytes(large),
            Measure.Bytes(small),
            Measure.Ratio(large / small),
            "< 100 MB and ratio <= 1.10x",
            Measure.Met(large < 100 * Mb && large / small <= 1.10));
    }

    /// <summary>Child entry: args is the item count; returns the process's peak working set in bytes.</summary>
    public static double Child(string[] args)
    {
        Chains.Ours(ChildProcess.Int(args[0]));
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.PeakWorkingSet64;
    }
}
