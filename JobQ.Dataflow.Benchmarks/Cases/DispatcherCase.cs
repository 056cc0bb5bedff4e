using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// 1M items keyed <c>x % 8</c> through one stage of 4 partitions whose worker checks per-key order
/// (<see cref="KeyOrderChecker"/>): ours is <c>Then(Record, threads: 4, dispatcher: x =&gt; x % 8)</c>; the
/// baseline routes by hand, an ActionBlock (MaxDegreeOfParallelism 1, so in input order) sending each item to one
/// of 4 ActionBlocks (MaxDegreeOfParallelism 1, BoundedCapacity 1024 each) by its key. Target: at least 5x the
/// baseline's throughput, and no per-key order violation (any fails the row).
/// </summary>
internal sealed class DispatcherCase : IQuickCase
{
    /// <summary>The partition count of both sides.</summary>
    public const int Partitions = 4;

    private const int Items = 1_000_000;
    private const int WarmUpItems = 100_000;
    private const int Samples = 7;
    private const double Target = 5;

    /// <inheritdoc/>
    public string Name => "dispatcher";

    /// <inheritdoc/>
    public IEnumerable<Row> Run(QuickSettings settings)
    {
        int n = settings.Size(Items), warm = settings.Size(WarmUpItems), samples = settings.Samples(Samples);
        var violations = 0;
        var medians = Measure.Alternate(
            samples,
            () =>
            {
                violations += RunOurs(warm);
                RunDataflow(warm);
            },
            new Contender("ours", () => Measure.Seconds(() => violations += RunOurs(n))),
            new Contender("Dataflow", () => Measure.Seconds(() => RunDataflow(n))));
        double ours = medians[0], dataflow = medians[1];
        var ratio = dataflow / ours;
        yield return new Row(
            $"{QuickSettings.Count(n)} items keyed x % {KeyOrderChecker.Keys}, one stage of {Partitions} partitions, per-key order checked (items/s, median of {samples}; Dataflow: router ActionBlock -> {Partitions} ActionBlocks)",
            Measure.Rate(n / ours),
            $"Dataflow {Measure.Rate(n / dataflow)}",
            Measure.Ratio(ratio),
            Measure.Invariant($">= {Target:0}x, no per-key order violation"),
            violations > 0 ? $"**no** ({violations} per-key order violations)" : Measure.Met(ratio >= Target));
    }

    /// <summary>Runs our dispatcher stage over 0 .. n-1; throws if an item is lost.</summary>
    /// <param name="n">The item count.</param>
    /// <returns>The number of per-key order violations seen.</returns>
    public static int RunOurs(int n)
    {
        var checker = new KeyOrderChecker();
        var workers = Workers.Of<int>().Then(checker.Record, threads: Partitions, dispatcher: KeyOrderChecker.Key);
        if (!JobQueue.Run(Chains.Items(n), workers).Completed)
        {
            throw new InvalidOperationException("Run did not complete.");
        }

        return checker.Seen == n ? checker.Violations : throw new InvalidOperationException($"{checker.Seen} items seen, expected {n}.");
    }

    /// <summary>Runs the hand-routed Dataflow baseline over 0 .. n-1; throws if an item is lost or a key's order breaks.</summary>
    /// <param name="n">The item count.</param>
    public static void RunDataflow(int n) => RunDataflowAsync(n).GetAwaiter().GetResult();

    private static async Task RunDataflowAsync(int n)
    {
        var checker = new KeyOrderChecker();
        var partitions = new ActionBlock<int>[Partitions];
        for (var p = 0; p < Partitions; p++)
        {
            partitions[p] = new ActionBlock<int>(checker.Record, Chains.Options(1, ordered: true));
        }

        // The router hands each item on before taking the next (MaxDegreeOfParallelism 1, and an ActionBlock waits
        // for the Task its delegate returns), so every partition receives its items in input order.
        var router = new ActionBlock<int>(
            x => partitions[KeyOrderChecker.Key(x) % Partitions].SendAsync(x),
            Chains.Options(1, ordered: true));
        foreach (var x in Chains.Items(n))
        {
            await router.SendAsync(x).ConfigureAwait(false);
        }

        router.Complete();
        await router.Completion.ConfigureAwait(false);
        foreach (var partition in partitions)
        {
            partition.Complete();
        }

        await Task.WhenAll(partitions.Select(p => p.Completion)).ConfigureAwait(false);
        if (checker.Seen != n || checker.Violations != 0)
        {
            throw new InvalidOperationException($"Baseline broken: {checker.Seen} items seen of {n}, {checker.Violations} per-key order violations.");
        }
    }
}
