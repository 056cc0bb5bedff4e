using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// Bytes allocated per item by the 3-stage chain (threads 1, unordered), ours against the per-item Dataflow chain:
/// GC.GetTotalAllocatedBytes(precise: true) before and after one whole run (setup included), which counts every
/// thread's allocations (GC.GetAllocatedBytesForCurrentThread would miss the workers'). No target: reported.
/// </summary>
internal sealed class AllocationCase : IQuickCase
{
    private const int Items = 1_000_000;
    private const int Samples = 3;

    /// <inheritdoc/>
    public string Name => "alloc";

    /// <inheritdoc/>
    public IEnumerable<Row> Run(QuickSettings settings)
    {
        int n = settings.Size(Items), samples = settings.Samples(Samples);
        var medians = Measure.Alternate(
            samples,
            () =>
            {
                Chains.Ours(n);
                Chains.Dataflow(n);
            },
            new Contender("ours (bytes)", () => AllocatedBytes(() => Chains.Ours(n))),
            new Contender("Dataflow (bytes)", () => AllocatedBytes(() => Chains.Dataflow(n))));
        double ours = medians[0] / n, dataflow = medians[1] / n;
        yield return new Row(
            $"{QuickSettings.Count(n)} ints add1 -> multi2 -> sum, threads 1: bytes allocated per item, all threads, whole run with setup (median of {samples})",
            Measure.Bytes(ours),
            $"Dataflow {Measure.Bytes(dataflow)}",
            Measure.Ratio(dataflow / ours),
            "-",
            "-");
    }

    private static double AllocatedBytes(Action run)
    {
        var before = GC.GetTotalAllocatedBytes(precise: true);
        run();
        return GC.GetTotalAllocatedBytes(precise: true) - before;
    }
}
