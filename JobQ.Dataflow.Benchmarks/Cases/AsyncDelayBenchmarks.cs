using BenchmarkDotNet.Attributes;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// BenchmarkDotNet: 20,000 items x await Task.Delay(20) on threads 1000 (ideal 0.4 s), ours against an async
/// ActionBlock with MaxDegreeOfParallelism 1000 (see <see cref="AsyncDelayCase"/>). Not sealed: BenchmarkDotNet
/// derives from benchmark classes.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class AsyncDelayBenchmarks
{
    /// <summary>The ActionBlock baseline.</summary>
    [Benchmark(Baseline = true)]
    public void Dataflow() => AsyncDelayCase.RunDataflow(AsyncDelayCase.Items);

    /// <summary>Our async stage.</summary>
    [Benchmark]
    public void Ours() => AsyncDelayCase.RunOurs(AsyncDelayCase.Items);
}
