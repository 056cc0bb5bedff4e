using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// 10M ints through add1 -> multi2 -> sum, every stage on threads 1, unordered and keepOrder: JobQueue.Run against
/// the per-item Dataflow chain (EnsureOrdered following keepOrder) and Akka.Streams (always in order). Target: at
/// least 20x Dataflow's throughput.
/// </summary>
internal sealed class SerialChainCase : IQuickCase
{
    private const int Items = 10_000_000;
    private const int WarmUpItems = 1_000_000;
    private const int Samples = 5;
    private const double Target = 20;

    /// <inheritdoc/>
    public string Name => "chain-threads1";

    /// <inheritdoc/>
    public IEnumerable<Row> Run(QuickSettings settings)
    {
        int n = settings.Size(Items), warm = settings.Size(WarmUpItems), samples = settings.Samples(Samples);
        using var akka = new AkkaChain();
        foreach (var keepOrder in new[] { false, true })
        {
            var medians = Measure.Alternate(
                samples,
                () =>
                {
                    Chains.Ours(warm, 1, keepOrder);
                    Chains.Dataflow(warm, 1, keepOrder);
                    akka.Run(warm);
                },
                new Contender("ours", () => Measure.Seconds(() => Chains.Ours(n, 1, keepOrder))),
                new Contender("Dataflow", () => Measure.Seconds(() => Chains.Dataflow(n, 1, keepOrder))),
                new Contender("Akka", () => Measure.Seconds(() => akka.Run(n))));
            double ours = medians[0], dataflow = medians[1], akkaTime = medians[2];
            var order = keepOrder ? "keepOrder (Dataflow EnsureOrdered)" : "unordered";
            yield return new Row(
                $"{QuickSettings.Count(n)} ints add1 -> multi2 -> sum, threads 1, {order} (items/s, median of {samples})",
                Measure.Rate(n / ours),
                $"Dataflow {Measure.Rate(n / dataflow)}; Akka {Measure.Rate(n / akkaTime)}",
                $"{Measure.Ratio(dataflow / ours)} vs Dataflow; {Measure.Ratio(akkaTime / ours)} vs Akka",
                Measure.Invariant($">= {Target:0}x vs Dataflow"),
                Measure.Met(dataflow / ours >= Target));
        }
    }
}
