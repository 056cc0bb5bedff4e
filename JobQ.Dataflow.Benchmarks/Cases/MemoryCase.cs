using System.Diagnostics;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// 10M items read lazily (an iterator) through add1 -> multi2 -> sum, in a fresh process that does only this: the
/// process's peak working set (Process.PeakWorkingSet64, the kernel's high-water mark), against the same for 1M
/// items. The input is read as room frees, so the peak must not grow with the count. Targets: under 100 MB, and
/// within 10 % of the 1M figure.
/// </summary>
internal sealed class MemoryCase : IQuickCase
{
    private const int Large = 10_000_000;
    private const int Small = 1_000_000;
    private const int Samples = 3;
    private const double Mb = 1 << 20;
    private const double LimitBytes = 100 * Mb;
    private const double MaxGrowth = 1.10;

    /// <inheritdoc/>
    public string Name => "memory";

    /// <inheritdoc/>
    public IEnumerable<Row> Run(QuickSettings settings)
    {
        int large = settings.Size(Large), small = settings.Size(Small), samples = settings.Samples(Samples);
        var medians = Measure.Alternate(
            samples,
            () => ChildProcess.Launch("noop"),
            new Contender($"ours {QuickSettings.Count(large)} (bytes)", () => ChildProcess.Launch("memory", ChildProcess.Arg(large))[0]),
            new Contender($"ours {QuickSettings.Count(small)} (bytes)", () => ChildProcess.Launch("memory", ChildProcess.Arg(small))[0]));
        double ofLarge = medians[0], ofSmall = medians[1];
        yield return new Row(
            $"Peak working set of a fresh process running {QuickSettings.Count(large)} items from an iterator through 3 stages, against the same with {QuickSettings.Count(small)} (median of {samples}; ratio = {QuickSettings.Count(large)} / {QuickSettings.Count(small)})",
            Measure.Bytes(ofLarge),
            $"ours with {QuickSettings.Count(small)} items {Measure.Bytes(ofSmall)}",
            $"{QuickSettings.Count(large)} / {QuickSettings.Count(small)} {Measure.Ratio(ofLarge / ofSmall)}",
            Measure.Invariant($"< {LimitBytes / Mb:0} MB and ratio <= {MaxGrowth:0.00}x"),
            Measure.Met(ofLarge < LimitBytes && ofLarge / ofSmall <= MaxGrowth));
    }

    /// <summary>Child entry: args is the item count; runs the chain once and returns the process's peak working set in bytes.</summary>
    /// <param name="args">The arguments.</param>
    /// <returns>One value: bytes.</returns>
    public static double[] Child(string[] args)
    {
        var n = ChildProcess.Int(args[0]);
        Chains.Ours(Chains.LazyItems(n), n, middleThreads: 1, keepOrder: false);
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return [process.PeakWorkingSet64];
    }
}
