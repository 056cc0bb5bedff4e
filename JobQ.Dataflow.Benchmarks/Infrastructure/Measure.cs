using System.Diagnostics;
using System.Globalization;

namespace JobQ.Dataflow.Benchmarks.Infrastructure;

/// <summary>Timing, medians and the number formats of the quick table.</summary>
internal static class Measure
{
    public static double Seconds(Action action)
    {
        var start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>
    /// Runs <paramref name="ours"/> and <paramref name="baseline"/> alternately and returns the median of each, after a
    /// warm-up of each: at least <paramref name="warmUps"/> discarded runs and half a second, so that tiered compilation
    /// has promoted the hot code of both (the framework's Dataflow ships precompiled; a library's code starts at tier 0).
    /// Every sample starts on a settled process (see <see cref="Settle"/>), so neither side pays for what the other left
    /// running.
    /// </summary>
    public static (double Ours, double Baseline) Alternate(int repetitions, Func<double> ours, Func<double> baseline, int warmUps = 3)
    {
        var a = new List<double>();
        var b = new List<double>();
        var warm = Stopwatch.StartNew();
        for (var i = 0; i < 10 && (i < warmUps || warm.Elapsed < TimeSpan.FromSeconds(0.5)); i++)
        {
            ours();
            baseline();
        }

        for (var i = 0; i < repetitions; i++)
        {
            Settle();
            a.Add(ours());
            Settle();
            b.Add(baseline());
        }

        // The spread goes to stderr with the progress, so a noisy machine shows.
        Console.Error.WriteLine(Invariant($"      samples ours [{string.Join(", ", a.Select(x => x.ToString("G4", CultureInfo.InvariantCulture)))}] baseline [{string.Join(", ", b.Select(x => x.ToString("G4", CultureInfo.InvariantCulture)))}]"));
        return (Median(a), Median(b));
    }

    /// <summary>Collects garbage and lets the thread pool's idle workers stop spinning before the next sample.</summary>
    public static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Thread.Sleep(50);
    }

    public static double Repeat(int repetitions, Func<double> run)
        => Median(Enumerable.Range(0, repetitions).Select(_ => run()));

    public static string Rate(double itemsPerSecond) => Invariant($"{itemsPerSecond / 1e6:F2} M/s");

    public static string Time(double seconds) => seconds >= 0.1
        ? Invariant($"{seconds:F3} s")
        : seconds >= 1e-3 ? Invariant($"{seconds * 1e3:F2} ms") : Invariant($"{seconds * 1e6:F1} µs");

    public static string Bytes(double bytes) => bytes >= 1 << 20
        ? Invariant($"{bytes / (1 << 20):F1} MB")
        : Invariant($"{bytes:F2} B");

    public static string Ratio(double value) => double.IsFinite(value) ? Invariant($"{value:F2}x") : "-";

    public static string Percent(double fraction) => Invariant($"{fraction * 100:F3} %");

    public static string Ns(double seconds) => Invariant($"{seconds * 1e9:F0} ns");

    public static string Met(bool met) => met ? "yes" : "**no**";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
