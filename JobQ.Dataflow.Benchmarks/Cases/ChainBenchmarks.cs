using BenchmarkDotNet.Attributes;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// BenchmarkDotNet: 1M ints through add1 -> multi2 -> sum, middle stage on threads 1 or 4, unordered or keepOrder,
/// ours against the per-item Dataflow chain and Akka.Streams (which is always in order and single-threaded, so its
/// figure is the same under every parameter). Not sealed: BenchmarkDotNet derives from benchmark classes.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class ChainBenchmarks
{
    private const int N = 1_000_000;
    private AkkaChain? _akka;

    /// <summary>Gets or sets the middle stage's threads (the middle block's MaxDegreeOfParallelism).</summary>
    [Params(1, 4)]
    public int MiddleThreads { get; set; }

    /// <summary>Gets or sets a value indicating whether order is kept (Dataflow: EnsureOrdered).</summary>
    [Params(false, true)]
    public bool KeepOrder { get; set; }

    /// <summary>Starts the Akka actor system and materializer once.</summary>
    [GlobalSetup]
    public void Setup() => _akka = new AkkaChain();

    /// <summary>Shuts Akka down.</summary>
    [GlobalCleanup]
    public void Cleanup() => _akka?.Dispose();

    /// <summary>The per-item Dataflow chain.</summary>
    /// <returns>The checked sum.</returns>
    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public long Dataflow() => Chains.Dataflow(N, MiddleThreads, KeepOrder);

    /// <summary>Akka.Streams, fused.</summary>
    /// <returns>The checked sum.</returns>
    [Benchmark(OperationsPerInvoke = N)]
    public long Akka() => _akka!.Run(N);

    /// <summary>JobQueue.Run.</summary>
    /// <returns>The checked sum.</returns>
    [Benchmark(OperationsPerInvoke = N)]
    public long Ours() => Chains.Ours(N, MiddleThreads, KeepOrder);
}
