using Akka.Actor;
using Akka.Streams;
using BenchmarkDotNet.Attributes;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>10 M ints through three single-threaded stages: ours, hand-written Dataflow and fused Akka.Streams.</summary>
[MemoryDiagnoser]
[ShortRunJob]
public class FusedChainBenchmarks
{
    private const int N = 10_000_000;

    // Per-item Dataflow takes several seconds for 10 M items; three repetitions keep the quick mode short.
    private const int QuickRepetitions = 5;

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
            ];
        }
        finally
        {
            bench.Cleanup();
        }
    }
}
