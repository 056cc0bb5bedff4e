using Akka.Actor;
using Akka.Streams;
using BenchmarkDotNet.Attributes;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// 10 M ints through add1 -> multi2 -> sum (issue 6's targets): three single-threaded stages against hand-written
/// Dataflow and fused Akka.Streams, then the middle stage on threads 4 against Dataflow.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class FusedChainBenchmarks
{
    private const int N = 10_000_000;

    // Per-item Dataflow takes several seconds for 10 M items; five repetitions keep the quick mode short.
    private const int QuickRepetitions = 5;

    // Our runs take half a second each, so the keepOrder cost, a ratio of two of them, can afford more samples.
    private const int CostPairs = 9;

    private ActorSystem? _system;
    private IMaterializer? _materializer;

    [GlobalSetup]
    public void Setup()
    {
        _system = Chains.CreateActorSystem();
        _materializer = _system.Materializer();
    }

    [GlobalCleanup]
    public void Cleanup() => _system?.Terminate().Wait(TimeSpan.FromSeconds(10));

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public long Dataflow() => Chains.Dataflow(N);

    [Benchmark(OperationsPerInvoke = N)]
    public long Akka() => Chains.Akka(N, _materializer!);

    [Benchmark(OperationsPerInvoke = N)]
    public long Ours() => Chains.Ours(N);

    internal static IEnumerable<Row> Quick()
    {
        var bench = new FusedChainBenchmarks();
        bench.Setup();
        try
        {
            Chains.Akka(100_000, bench._materializer!);
            Chains.Ours(100_000);
            var ours = new List<double>();
            var dataflow = new List<double>();
            var akka = new List<double>();
            for (var i = 0; i < QuickRepetitions; i++)
            {
                Measure.Settle();
                ours.Add(Measure.Seconds(() => bench.Ours()));
                Measure.Settle();
                dataflow.Add(Measure.Seconds(() => bench.Dataflow()));
                Measure.Settle();
                akka.Add(Measure.Seconds(() => bench.Akka()));
            }

            double oursRate = N / Measure.Median(ours), dataflowRate = N / Measure.Median(dataflow), akkaRate = N / Measure.Median(akka);
            return
            [
                new Row(
                    $"10M add1 -> multi2 -> sum, threads 1, vs Dataflow (items/s, median of {QuickRepetitions})",
                    Measure.Rate(oursRate),
                    Measure.Rate(dataflowRate),
                    Measure.Ratio(oursRate / dataflowRate),
                    ">= 10 M/s and >= 7x",
                    Measure.Met(oursRate >= 10e6 && oursRate / dataflowRate >= 7)),
                new Row(
                    $"10M add1 -> multi2 -> sum, threads 1, vs Akka.Streams fused (items/s, median of {QuickRepetitions})",
                    Measure.Rate(oursRate),
                    Measure.Rate(akkaRate),
                    Measure.Ratio(oursRate / akkaRate),
                    "lead (> 1.0x)",
                    Measure.Met(oursRate > akkaRate)),
                .. MiddleThreads4(),
            ];
        }
        finally
        {
            bench.Cleanup();
        }
    }

    /// <summary>The issue's second target: the same 10 M chain with the middle stage on threads 4, unordered and keepOrder.</summary>
    private static IEnumerable<Row> MiddleThreads4()
    {
        var (unordered, unorderedBaseline) = Compare(keepOrder: false);
        var (ordered, orderedBaseline) = Compare(keepOrder: true);
        return
        [
            Row("unordered", unordered, unorderedBaseline),
            Row("keepOrder", ordered, orderedBaseline),
            KeepOrderCost(orderedBaseline / unorderedBaseline),
        ];

        // One warm-up run each: the same code ran already in the 1M rows, and one 10M run is long enough to tier up.
        static (double Ours, double Baseline) Compare(bool keepOrder) => Measure.Alternate(
            QuickRepetitions,
            () => Measure.Seconds(() => Chains.Ours(N, 4, keepOrder)),
            () => Measure.Seconds(() => Chains.Dataflow(N, 4, keepOrder)),
            warmUps: 1);

        // The cost is a ratio of two of our own runs, so it is measured in pairs run back to back (the order flipping
        // each pair), and the median of the pairs' ratios is reported: two medians taken a minute apart would carry
        // whatever the machine did in between.
        static Row KeepOrderCost(double baselineCost)
        {
            Chains.Ours(N, 4, keepOrder: false);
            Chains.Ours(N, 4, keepOrder: true);
            var ratios = new List<double>();
            for (var i = 0; i < CostPairs; i++)
            {
                Measure.Settle();
                var first = Measure.Seconds(() => Chains.Ours(N, 4, keepOrder: i % 2 == 1));
                Measure.Settle();
                var second = Measure.Seconds(() => Chains.Ours(N, 4, keepOrder: i % 2 == 0));
                ratios.Add(i % 2 == 0 ? second / first : first / second);
            }

            Console.Error.WriteLine(FormattableString.Invariant($"      keepOrder / unordered per pair [{string.Join(", ", ratios.Select(r => r.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)))}]"));
            var cost = Measure.Median(ratios);
            return new Row(
                $"10M chain, middle threads 4: keepOrder cost (time keepOrder / unordered, median of {CostPairs} back-to-back pairs; baseline: Dataflow's medians above)",
                Measure.Ratio(cost),
                Measure.Ratio(baselineCost),
                "-",
                "ours <= 1.20x",
                Measure.Met(cost <= 1.2));
        }

        static Row Row(string label, double ours, double baseline) => new(
            $"10M add1 -> multi2 -> sum, middle threads 4, {label}, vs Dataflow (items/s, median of {QuickRepetitions})",
            Measure.Rate(N / ours),
            Measure.Rate(N / baseline),
            Measure.Ratio(baseline / ours),
            ">= 7x",
            Measure.Met(baseline / ours >= 7));
    }
}
