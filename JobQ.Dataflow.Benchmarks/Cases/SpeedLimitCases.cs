using System.Globalization;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// LimitJobSpeed on the wall clock: the achieved rate (items / wall time of the whole run) against the limit.
/// There is no baseline in .NET to compare with; jobq reaches 0.05 % at 10,000/s.
/// </summary>
internal static class SpeedLimitCases
{
    private const int Repetitions = 3;

    public static IEnumerable<Row> Quick()
    {
        yield return Rate(10_000, 3, 0.005);
        yield return Rate(100_000, 2, 0.01);
    }

    private static Row Rate(double limit, int seconds, double targetError)
    {
        var n = (int)(limit * seconds);
        var rate = Measure.Repeat(Repetitions, () =>
        {
            var workers = Workers.Of<int>().Then(JobQueue.LimitJobSpeed(limit)).Then((int _) => { });
            return n / Measure.Seconds(() => JobQueue.Run(Enumerable.Range(0, n), workers));
        });
        var error = Math.Abs(rate - limit) / limit;
        return new Row(
            string.Create(CultureInfo.InvariantCulture, $"LimitJobSpeed({limit:N0}/s), {n:N0} items (~{seconds} s): achieved rate, error (median of {Repetitions})"),
            string.Create(CultureInfo.InvariantCulture, $"{rate:N0}/s, error {Measure.Percent(error)}"),
            "jobq: 0.05 % at 10,000/s",
            "-",
            $"error <= {Measure.Percent(targetError)}",
            Measure.Met(error <= targetError));
    }
}
