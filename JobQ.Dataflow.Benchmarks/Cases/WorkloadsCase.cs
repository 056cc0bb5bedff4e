using System.Diagnostics;
using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// Workloads outside the targets, measured so that the table shows where plain Dataflow is as fast or faster: many
/// tiny runs, a generator fanning out tenfold, a 50 µs stage on 2 threads between cheap ones, and an async worker that
/// only yields, on 100 threads. Each row is the wall time of ours against the same work written with per-item Dataflow
/// blocks (BoundedCapacity 1024, fed by SendAsync); no target.
/// </summary>
internal sealed class WorkloadsCase : IQuickCase
{
    private const int Samples = 5;
    private static readonly long FiftyMicroseconds = Stopwatch.Frequency / 20_000;

    /// <inheritdoc/>
    public string Name => "workloads";

    /// <inheritdoc/>
    public IEnumerable<Row> Run(QuickSettings settings)
    {
        int runs = settings.Size(10_000), fanned = settings.Size(400_000), slow = settings.Size(20_000), yielded = settings.Size(400_000);
        yield return Compare(
            settings,
            $"{QuickSettings.Count(runs)} x Run over 10 items, add1 -> multi2 -> sum (each run builds and ends its pipeline)",
            () => { for (var r = 0; r < runs; r++) { Ours(Workers.Of<int>().Then(Chains.Add1).Then(Chains.Multi2), 10); } },
            () => { for (var r = 0; r < runs; r++) { Dataflow(new TransformBlock<int, int>(Chains.Add1, Chains.Options(1, false)), new TransformBlock<int, int>(Chains.Multi2, Chains.Options(1, false)), 10); } });
        yield return Compare(
            settings,
            $"{QuickSettings.Count(fanned)} items, ThenMany yielding 10 each -> sum",
            () => Ours(Workers.Of<int>().ThenMany(Ten), fanned, 10),
            () => Dataflow(new TransformManyBlock<int, int>(Ten, Chains.Options(1, false)), null, fanned, 10));
        yield return Compare(
            settings,
            $"{QuickSettings.Count(slow)} items, add1 -> 50 µs of work (threads 2) -> sum",
            () => Ours(Workers.Of<int>().Then(Chains.Add1).Then(Work, threads: 2), slow),
            () => Dataflow(new TransformBlock<int, int>(Chains.Add1, Chains.Options(1, false)), new TransformBlock<int, int>(Work, Chains.Options(2, false)), slow));
        yield return Compare(
            settings,
            $"{QuickSettings.Count(yielded)} items, async worker awaiting Task.Yield (threads 100) -> sum",
            () => Ours(Workers.Of<int>().Then(YieldAsync, threads: 100), yielded),
            () => Dataflow(new TransformBlock<int, int>(YieldAsync, Chains.Options(100, false)), null, yielded));
    }

    private static Row Compare(QuickSettings settings, string label, Action ours, Action dataflow)
    {
        var samples = settings.Samples(Samples);
        var medians = Measure.Alternate(
            samples,
            () =>
            {
                ours();
                dataflow();
            },
            new Contender("ours", () => Measure.Seconds(ours)),
            new Contender("Dataflow", () => Measure.Seconds(dataflow)));
        return new Row(
            $"{label} (wall time, median of {samples})",
            Measure.Time(medians[0]),
            $"Dataflow {Measure.Time(medians[1])}",
            Measure.Invariant($"ours / baseline {medians[0] / medians[1]:F2}x"),
            "-",
            "-");
    }

    private static IEnumerable<int> Ten(int x) => Enumerable.Repeat(x, 10);

    private static int Work(int x)
    {
        var end = Stopwatch.GetTimestamp() + FiftyMicroseconds;
        while (Stopwatch.GetTimestamp() < end)
        {
        }

        return x;
    }

    private static async Task<int> YieldAsync(int x)
    {
        await Task.Yield();
        return x;
    }

    /// <summary>Runs <paramref name="workers"/> then a sum over 0 .. n-1 and checks how many items reached the sum.</summary>
    private static void Ours(Workers<int, int> workers, int n, int outputsPerItem = 1)
    {
        var count = 0L;
        if (!JobQueue.Run(Chains.Items(n), workers.Then((int x) => { count++; })).Completed || count != (long)n * outputsPerItem)
        {
            throw new InvalidOperationException($"{count} items reached the sum, expected {(long)n * outputsPerItem}.");
        }
    }

    /// <summary>The same with per-item Dataflow blocks: <paramref name="first"/>, then <paramref name="second"/> if any, then a counting ActionBlock.</summary>
    private static void Dataflow(IPropagatorBlock<int, int> first, IPropagatorBlock<int, int>? second, int n, int outputsPerItem = 1)
    {
        var count = 0L;
        var link = new DataflowLinkOptions { PropagateCompletion = true };
        var last = new ActionBlock<int>(x => count++, Chains.Options(1, false));
        if (second is null)
        {
            first.LinkTo(last, link);
        }
        else
        {
            first.LinkTo(second, link);
            second.LinkTo(last, link);
        }

        Task.Run(async () =>
        {
            foreach (var x in Chains.Items(n))
            {
                await first.SendAsync(x).ConfigureAwait(false);
            }

            first.Complete();
            await last.Completion.ConfigureAwait(false);
        }).GetAwaiter().GetResult();
        if (count != (long)n * outputsPerItem)
        {
            throw new InvalidOperationException($"{count} items reached the sum, expected {(long)n * outputsPerItem}.");
        }
    }
}
