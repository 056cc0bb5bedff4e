using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// Where the chain's time goes: the same 1 M ints through 1, 2 and 3 single-threaded stages (sum; add1 -> sum;
/// add1 -> multi2 -> sum), ours and hand-written Dataflow. The difference between rows is the cost of one hop.
/// </summary>
internal static class HopBreakdownCases
{
    private const int N = 1_000_000;

    public static IEnumerable<Row> Quick()
    {
        Ours(100_000, 3);
        Dataflow(100_000, 3).GetAwaiter().GetResult();
        for (var stages = 1; stages <= 3; stages++)
        {
            var k = stages;
            var (ours, baseline) = Measure.Alternate(
                QuickRunner.Repetitions,
                () => Measure.Seconds(() => Ours(N, k)),
                () => Measure.Seconds(() => Dataflow(N, k).GetAwaiter().GetResult()));
            yield return new Row(
                $"Breakdown: 1M ints through {k} stage(s), threads 1 (time per item)",
                Measure.Ns(ours / N),
                Measure.Ns(baseline / N),
                Measure.Ratio(baseline / ours),
                "-",
                "-");
        }

        // The fixed cost of one run (start the stages, ramp up, drain, stop), warm process: 1,000 items, 3 stages.
        var (oursSmall, baselineSmall) = Measure.Alternate(
            20,
            () => Measure.Seconds(() => Chains.Ours(1000)),
            () => Measure.Seconds(() => Chains.Dataflow(1000)));
        yield return new Row(
            "Breakdown: fixed cost of one run, 1,000 items through 3 stages, warm process (wall time, median of 20)",
            Measure.Time(oursSmall),
            Measure.Time(baselineSmall),
            Measure.Ratio(baselineSmall / oursSmall),
            "-",
            "-");

        if (!ProcessUsage.Available)
        {
            yield break;
        }

        foreach (var (label, threads, keepOrder) in new[] { ("threads 1", 1, false), ("middle threads 4, unordered", 4, false), ("middle threads 4, keepOrder", 4, true) })
        {
            var ours = Usage(() => Chains.Ours(N, threads, keepOrder));
            var baseline = Usage(() => Chains.Dataflow(N, threads, keepOrder));
            yield return new Row(
                $"Breakdown, 1M chain {label}: CPU time (user + sys, all threads) per item; context switches per 1000 items, voluntary (parks) / involuntary (preempted) (one run)",
                $"{Measure.Ns(ours.Cpu / N)}; {ours.Voluntary * 1000.0 / N:F1} / {ours.Involuntary * 1000.0 / N:F1}",
                $"{Measure.Ns(baseline.Cpu / N)}; {baseline.Voluntary * 1000.0 / N:F1} / {baseline.Involuntary * 1000.0 / N:F1}",
                Measure.Ratio(baseline.Cpu / ours.Cpu),
                "-",
                "-");
        }
    }

    private static (double Cpu, long Voluntary, long Involuntary) Usage(Action run) => ProcessUsage.Measure(run);

    private static long Ours(int n, int stages)
    {
        var sum = new Summer();
        var workers = stages switch
        {
            1 => Workers.Of<int>().Then(sum.Add),
            2 => Workers.Of<int>().Then(Chains.Add1).Then(sum.Add),
            _ => Chains.OursWorkers(1, sum),
        };
        JobQueue.Run(Enumerable.Range(0, n), workers);
        return Check(sum.Total, n, stages);
    }

    private static async Task<long> Dataflow(int n, int stages)
    {
        var link = new DataflowLinkOptions { PropagateCompletion = true };
        var sum = new Summer();
        var last = new ActionBlock<int>(sum.Add, Chains.Options(1, ordered: false));
        ITargetBlock<int> head = last;
        if (stages >= 3)
        {
            var multi2 = new TransformBlock<int, int>(Chains.Multi2, Chains.Options(1, ordered: false));
            multi2.LinkTo(head, link);
            head = multi2;
        }

        if (stages >= 2)
        {
            var add1 = new TransformBlock<int, int>(Chains.Add1, Chains.Options(1, ordered: false));
            add1.LinkTo(head, link);
            head = add1;
        }

        for (var i = 0; i < n; i++)
        {
            await head.SendAsync(i).ConfigureAwait(false);
        }

        head.Complete();
        await last.Completion.ConfigureAwait(false);
        return Check(sum.Total, n, stages);
    }

    private static long Check(long total, int n, int stages)
    {
        var expected = stages switch
        {
            1 => (long)n * (n - 1) / 2,
            2 => (long)n * (n + 1) / 2,
            _ => (long)n * (n + 1),
        };
        return total == expected ? total : throw new InvalidOperationException($"Sum {total}, expected {expected}.");
    }
}
