using BenchmarkDotNet.Attributes;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// BenchmarkDotNet: 1M items keyed x % 8 through 4 partitions with per-key order checked, ours
/// (<c>Then(f, threads: 4, dispatcher: x =&gt; x % 8)</c>) against a hand-routed Dataflow router and 4 blocks (see
/// <see cref="DispatcherCase"/>). Not sealed: BenchmarkDotNet derives from benchmark classes.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class DispatcherBenchmarks
{
    private const int N = 1_000_000;

    /// <summary>The hand-routed Dataflow baseline.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public void Dataflow() => DispatcherCase.RunDataflow(N);

    /// <summary>Our dispatcher stage; throws on a per-key order violation.</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public void Ours()
    {
        var violations = DispatcherCase.RunOurs(N);
        if (violations != 0)
        {
            throw new InvalidOperationException($"{violations} per-key order violations.");
        }
    }
}
