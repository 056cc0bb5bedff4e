using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>20,000 items x await Task.Delay(20) on threads: 1000 (ideal 0.4 s), ours against an async ActionBlock.</summary>
[MemoryDiagnoser]
[ShortRunJob]
public class AsyncDelayBenchmarks
{
    private const int N = 20_000;
    private const int Threads = 1000;

    [Benchmark(Baseline = true)]
    public Task Dataflow() => RunDataflow();

    [Benchmark]
    public void Ours() => RunOurs();

    internal static IEnumerable<Row> Quick()
    {
        RunOurs();
        RunDataflow().GetAwaiter().GetResult();
        var (ours, baseline) = Measure.Alternate(
            QuickRunner.Repetitions,
            () => Measure.Seconds(RunOurs),
            () => Measure.Seconds(() => RunDataflow().GetAwaiter().GetResult()));
        yield return new Row(
            "20,000 items x await Task.Delay(20), threads 1000 (wall time; Dataflow async ActionBlock MaxDegreeOfParallelism 1000)",
            Measure.Time(ours),
            Measure.Time(baseline),
            Measure.Ratio(baseline / ours),
            "<= 0.5 s",
            Measure.Met(ours <= 0.5));
    }

    private static async Task<int> Delay20(int x)
    {
        await Task.Delay(20).ConfigureAwait(false);
        return x;
    }

    private static void RunOurs()
    {
        var count = 0;
        var workers = Workers.Of<int>().Then(Delay20, Threads).Then((int _) => { count++; });
        JobQueue.Run(Enumerable.Range(0, N), workers);
        if (count != N)
        {
            throw new InvalidOperationException($"{count} items, expected {N}.");
        }
    }

    private static async Task RunDataflow()
    {
        var block = new ActionBlock<int>(Delay20, Chains.Options(Threads, ordered: false));
        for (var i = 0; i < N; i++)
        {
            await block.SendAsync(i).ConfigureAwait(false);
        }

        block.Complete();
        await block.Completion.ConfigureAwait(false);
    }
}
