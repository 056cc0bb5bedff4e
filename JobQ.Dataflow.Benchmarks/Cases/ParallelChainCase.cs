using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// 10M ints through add1 -> multi2 -> sum with the middle stage on threads 4, unordered and keepOrder, against the
/// per-item Dataflow chain whose middle TransformBlock has MaxDegreeOfParallelism 4 (EnsureOrdered following
/// keepOrder). Targets: at least 20x Dataflow's throughput each, and our keepOrder cost (keepOrder time /
/// unordered time) at most 1.1x.
/// </summary>
internal sealed class ParallelChainCase : IQuickCase
{
    private const int Items = 10_000_000;
    private const int WarmUpItems = 1_000_000;
    private const int MiddleThreads = 4;
    private const int Samples = 5;
    private const int CostPairs = 9;
    private const double Target = 20;
    private const double CostTarget = 1.1;

    /// <inheritdoc/>
    public string Name => "chain-threads4";

    /// <inheritdoc/>
    public IEnumerable<Row> Run(QuickSettings settings)
    {
        int n = settings.Size(Items), warm = settings.Size(WarmUpItems), samples = settings.Samples(Samples);
        var dataflowTimes = new double[2];
        foreach (var keepOrder in new[] { false, true })
        {
            var medians = Measure.Alternate(
                samples,
                () =>
                {
                    Chains.Ours(warm, MiddleThreads, keepOrder);
                    Chains.Dataflow(warm, MiddleThreads, keepOrder);
                },
                new Contender("ours", () => Measure.Seconds(() => Chains.Ours(n, MiddleThreads, keepOrder))),
                new Contender("Dataflow", () => Measure.Seconds(() => Chains.Dataflow(n, MiddleThreads, keepOrder))));
            double ours = medians[0], dataflow = medians[1];
            dataflowTimes[keepOrder ? 1 : 0] = dataflow;
            var order = keepOrder ? "keepOrder (Dataflow EnsureOrdered)" : "unordered";
            yield return new Row(
                $"{QuickSettings.Count(n)} ints add1 -> multi2 -> sum, middle stage threads {MiddleThreads} (Dataflow MaxDegreeOfParallelism {MiddleThreads}), {order} (items/s, median of {samples})",
                Measure.Rate(n / ours),
                $"Dataflow {Measure.Rate(n / dataflow)}",
                Measure.Ratio(dataflow / ours),
                Measure.Invariant($">= {Target:0}x"),
                Measure.Met(dataflow / ours >= Target));
        }

        yield return KeepOrderCost(n, settings.Samples(CostPairs), dataflowTimes[1] / dataflowTimes[0]);
    }

    // The cost is a ratio of two of our own runs, so it is measured in pairs run back to back, the order flipping
    // each pair (unordered first, then keepOrder first, ...), and the median of the pairs' ratios is reported: two
    // medians taken a minute apart would carry whatever the machine did in between.
    private static Row KeepOrderCost(int n, int pairs, double dataflowCost)
    {
        var ratios = new List<double>();
        for (var i = 0; i < pairs; i++)
        {
            var keepOrderFirst = i % 2 == 1;
            Measure.Settle();
            var first = Measure.Seconds(() => Chains.Ours(n, MiddleThreads, keepOrder: keepOrderFirst));
            Measure.Settle();
            var second = Measure.Seconds(() => Chains.Ours(n, MiddleThreads, keepOrder: !keepOrderFirst));
            ratios.Add(keepOrderFirst ? first / second : second / first);
        }

        Console.Error.WriteLine($"      keepOrder / unordered per pair: [{string.Join(", ", ratios.Select(r => Measure.Invariant($"{r:F3}")))}]");
        var cost = Measure.Median(ratios);
        return new Row(
            $"{QuickSettings.Count(n)} chain, middle threads {MiddleThreads}: keepOrder cost = keepOrder time / unordered time (median of {pairs} back-to-back pairs, order flipped each pair)",
            Measure.Ratio(cost),
            $"Dataflow {Measure.Ratio(dataflowCost)} (its two medians above)",
            "-",
            Measure.Invariant($"ours <= {CostTarget:0.0}x"),
            Measure.Met(cost <= CostTarget));
    }
}
