using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// <c>JobQueue.LimitJobSpeed</c> on the wall clock: limit * seconds items through the limit and a trivial stage, and
/// the achieved rate = items / wall time of the whole run, against the limit. Targets: error at most 0.5 % at
/// 10,000/s over 3 s, at most 1 % at 100,000/s over 2 s. No .NET baseline to compare with.
/// </summary>
internal sealed class SpeedLimitCase : IQuickCase
{
    private const int Samples = 3;

    /// <inheritdoc/>
    public string Name => "speed-limit";

    /// <inheritdoc/>
    public IEnumerable<Row> Run(QuickSettings settings)
    {
        yield return Rate(settings, 10_000, 3, 0.005);
        yield return Rate(settings, 100_000, 2, 0.01);
    }

    private static void Discard(int x)
    {
    }

    private static Row Rate(QuickSettings settings, double limit, int seconds, double targetError)
    {
        int n = settings.Size((int)(limit * seconds)), samples = settings.Samples(Samples);
        var rates = new List<double>();

        // Warm-up: compiles the limiter and the run's code, so the first sample does not carry it.
        JobQueue.Run(Chains.Items(100), Workers.Of<int>().Then(JobQueue.LimitJobSpeed(limit)).Then(Discard));
        for (var i = 0; i < samples; i++)
        {
            Measure.Settle();
            var workers = Workers.Of<int>().Then(JobQueue.LimitJobSpeed(limit)).Then(Discard);
            rates.Add(n / Measure.Seconds(() =>
            {
                if (!JobQueue.Run(Chains.Items(n), workers).Completed)
                {
                    throw new InvalidOperationException("Run did not complete.");
                }
            }));
        }

        Console.Error.WriteLine($"      rates: [{string.Join(", ", rates.Select(r => Measure.Invariant($"{r:F1}")))}]");
        var rate = Measure.Median(rates);
        var error = Math.Abs(rate - limit) / limit;
        return new Row(
            Measure.Invariant($"LimitJobSpeed({limit:N0}/s), {n:N0} items: achieved rate (items / wall time of the run) and its error (median of {samples})"),
            Measure.Invariant($"{rate:N0}/s, error {Measure.Percent(error)}"),
            "-",
            "-",
            $"error <= {Measure.Percent(targetError)}",
            Measure.Met(error <= targetError));
    }
}
