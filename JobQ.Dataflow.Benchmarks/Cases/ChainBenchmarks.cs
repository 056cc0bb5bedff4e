using BenchmarkDotNet.Attributes;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>1 M ints through add1 -> multi2 -> sum: ours against the same chain hand-written with Dataflow blocks.</summary>
[MemoryDiagnoser]
public class ChainBenchmarks
{
    private const int N = 1_000_000;

    [Params(1, 4)]
    public int MiddleThreads { get; set; }

    [Params(false, true)]
    public bool KeepOrder { get; set; }

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public long Dataflow() => Chains.Dataflow(N, MiddleThreads, KeepOrder);

    [Benchmark(OperationsPerInvoke = N)]
    public long Ours() => Chains.Ours(N, MiddleThreads, KeepOrder);

    internal static IEnumerable<Row> Quick()
    {
        Chains.Ours(100_000, 4, keepOrder: true);
        Chains.Dataflow(100_000, 4, ordered: true);
        var t1 = Compare("threads 1", 1, keepOrder: false);
        yield return t1.Row;
        var t4 = Compare("middle threads 4, unordered", 4, keepOrder: false);
        yield return t4.Row;
        var t4Ordered = Compare("middle threads 4, keepOrder", 4, keepOrder: true);
        yield return t4Ordered.Row;

        double ours = t4Ordered.Ours / t4.Ours, baseline = t4Ordered.Baseline / t4.Baseline;
        yield return new Row(
            "1M chain: keepOrder cost (time keepOrder / unordered, middle threads 4)",
            Measure.Ratio(ours),
            Measure.Ratio(baseline),
            "-",
            "- (issue 6's 1.20x is on 10M below)",
            "-");

        var oursBytes = BytesPerItem(() => Chains.Ours(N));
        var baselineBytes = BytesPerItem(() => Chains.Dataflow(N));
        yield return new Row(
            "1M chain: allocated bytes per item (threads 1, whole run incl. setup)",
            Measure.Bytes(oursBytes),
            Measure.Bytes(baselineBytes),
            Measure.Ratio(baselineBytes / oursBytes),
            "<= Dataflow, aim 0",
            Measure.Met(oursBytes <= baselineBytes));
    }

    private static (Row Row, double Ours, double Baseline) Compare(string label, int middleThreads, bool keepOrder)
    {
        var (ours, baseline) = Measure.Alternate(
            QuickRunner.Repetitions,
            () => Measure.Seconds(() => Chains.Ours(N, middleThreads, keepOrder)),
            () => Measure.Seconds(() => Chains.Dataflow(N, middleThreads, keepOrder)));
        var ratio = baseline / ours;
        var row = new Row(
            $"1M add1 -> multi2 -> sum, {label} (items/s)",
            Measure.Rate(N / ours),
            Measure.Rate(N / baseline),
            Measure.Ratio(ratio),
            ">= 1.0x (issue 2); issue 6's 7x is on 10M below",
            Measure.Met(ratio >= 1));
        return (row, ours, baseline);
    }

    private static double BytesPerItem(Action run)
    {
        run();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        run();
        return (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)N;
    }
}
