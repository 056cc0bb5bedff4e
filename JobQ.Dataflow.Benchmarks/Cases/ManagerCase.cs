using System.Diagnostics;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// A resizable JobManager over add1 -> multi2 -> sum (threads 1): Put of 2M ints one at a time from one thread,
/// then Join, against the per-item Dataflow chain fed by SendAsync. Target: at least 8x the baseline's throughput.
/// 2M rather than 10M keeps the per-item Dataflow samples short enough for the quick mode's time budget; the
/// per-item figures do not depend on the count at these sizes.
/// </summary>
internal sealed class ManagerCase : IQuickCase
{
    private const int Items = 2_000_000;
    private const int WarmUpItems = 200_000;
    private const int Samples = 7;
    private const double Target = 8;

    /// <inheritdoc/>
    public string Name => "manager";

    /// <inheritdoc/>
    public IEnumerable<Row> Run(QuickSettings settings)
    {
        int n = settings.Size(Items), warm = settings.Size(WarmUpItems), samples = settings.Samples(Samples);
        var putLoops = new List<double>();
        var medians = Measure.Alternate(
            samples,
            () =>
            {
                PutAndJoin(warm);
                Chains.Dataflow(warm);
            },
            new Contender("ours", () => Measure.Seconds(() => putLoops.Add(PutAndJoin(n)))),
            new Contender("Dataflow", () => Measure.Seconds(() => Chains.Dataflow(n))));
        double ours = medians[0], dataflow = medians[1];
        Console.Error.WriteLine(Measure.Invariant($"      of which the Put loop alone (until the last Put returned), median: {Measure.Time(Measure.Median(putLoops))}"));
        yield return new Row(
            $"JobManager.Create(add1 -> multi2 -> sum), {QuickSettings.Count(n)} x Put from one thread, then Join (items/s, median of {samples}; Dataflow: the same chain fed by SendAsync)",
            Measure.Rate(n / ours),
            $"Dataflow {Measure.Rate(n / dataflow)}",
            Measure.Ratio(dataflow / ours),
            Measure.Invariant($">= {Target:0}x"),
            Measure.Met(dataflow / ours >= Target));
    }

    // Returns the seconds the Put loop took (the Join after it is in the sample's time, not in this).
    private static double PutAndJoin(int n)
    {
        var sum = new Summer();
        double putSeconds;
        using (var manager = JobManager.Create(Chains.OursWorkers(1, sum)))
        {
            var start = Stopwatch.GetTimestamp();
            for (var i = 0; i < n; i++)
            {
                manager.Put(i);
            }

            putSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (!manager.Join())
            {
                throw new InvalidOperationException("Join did not complete.");
            }
        }

        Chains.Check(sum.Total, n);
        return putSeconds;
    }
}
