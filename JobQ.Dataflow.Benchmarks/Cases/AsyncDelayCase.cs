using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// 20,000 items of <c>await Task.Delay(20)</c> on an async stage of threads 1000 (ideal 0.4 s), against an async
/// ActionBlock with MaxDegreeOfParallelism 1000 (BoundedCapacity 1024) fed by SendAsync. Target: our time at most
/// 1.05x the baseline's.
/// </summary>
internal sealed class AsyncDelayCase : IQuickCase
{
    /// <summary>The item count of a measuring run.</summary>
    public const int Items = 20_000;

    /// <summary>The stage's threads and the block's MaxDegreeOfParallelism.</summary>
    public const int Threads = 1000;

    private const int Samples = 7;
    private const double Target = 1.05;

    /// <inheritdoc/>
    public string Name => "async-delay";

    /// <inheritdoc/>
    public IEnumerable<Row> Run(QuickSettings settings)
    {
        int n = settings.Size(Items), samples = settings.Samples(Samples);
        var medians = Measure.Alternate(
            samples,
            () =>
            {
                RunOurs(n);
                RunDataflow(n);
            },
            new Contender("ours", () => Measure.Seconds(() => RunOurs(n))),
            new Contender("Dataflow", () => Measure.Seconds(() => RunDataflow(n))));
        double ours = medians[0], dataflow = medians[1];
        yield return new Row(
            $"{QuickSettings.Count(n)} items x await Task.Delay(20), threads {Threads} (wall time, median of {samples}; Dataflow: async ActionBlock, MaxDegreeOfParallelism {Threads})",
            Measure.Time(ours),
            $"Dataflow {Measure.Time(dataflow)}",
            $"ours / baseline {Measure.Ratio(ours / dataflow)}",
            Measure.Invariant($"ours <= {Target:0.00}x Dataflow's time"),
            Measure.Met(ours <= Target * dataflow));
    }

    /// <summary>The worker of both sides.</summary>
    /// <param name="x">The item.</param>
    /// <returns>The delay.</returns>
    public static async Task Delay20(int x) => await Task.Delay(20).ConfigureAwait(false);

    /// <summary>Runs our async stage over 0 .. n-1.</summary>
    /// <param name="n">The item count.</param>
    public static void RunOurs(int n)
    {
        var result = JobQueue.Run(Chains.Items(n), Workers.Of<int>().Then(Delay20, threads: Threads));
        if (!result.Completed || result.Stats.Stages[0].Out != n)
        {
            throw new InvalidOperationException($"Run did not complete all {n} calls.");
        }
    }

    /// <summary>Runs the ActionBlock baseline over 0 .. n-1.</summary>
    /// <param name="n">The item count.</param>
    public static void RunDataflow(int n) => RunDataflowAsync(n).GetAwaiter().GetResult();

    private static async Task RunDataflowAsync(int n)
    {
        var block = new ActionBlock<int>(Delay20, Chains.Options(Threads, ordered: false));
        foreach (var x in Chains.Items(n))
        {
            await block.SendAsync(x).ConfigureAwait(false);
        }

        block.Complete();
        await block.Completion.ConfigureAwait(false);
    }
}
