using System.Diagnostics;
using System.Globalization;

namespace JobQ.Dataflow.Benchmarks.Infrastructure;

/// <summary>Timing, medians, the alternating comparison of the quick mode, and the number formats of its table.</summary>
internal static class Measure
{
    private static readonly TimeSpan MinimumWarmUp = TimeSpan.FromSeconds(0.5);

    /// <summary>Returns the wall time of <paramref name="action"/> in seconds.</summary>
    /// <param name="action">The run to time.</param>
    /// <returns>Seconds.</returns>
    public static double Seconds(Action action)
    {
        var start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>Returns the median of <paramref name="values"/> (the mean of the middle two for an even count), NaN if empty.</summary>
    /// <param name="values">The samples.</param>
    /// <returns>The median.</returns>
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
    /// Takes <paramref name="repetitions"/> samples of each contender, alternating them (ours, baseline, ours, ...)
    /// so that whatever the machine does meanwhile falls on both sides, and returns each one's median in the order
    /// given. First comes the warm-up: <paramref name="warmUp"/> runs at least twice and until half a second has
    /// passed (at most 10 times), so tiered compilation has promoted the hot code of every side (the framework's
    /// Dataflow ships precompiled; a library's code starts at tier 0). Every sample starts on a settled process
    /// (see <see cref="Settle"/>), so no side pays for garbage or spinning threads another left behind. The samples
    /// themselves go to stderr, so a noisy machine shows.
    /// </summary>
    /// <param name="repetitions">Samples per contender.</param>
    /// <param name="warmUp">Runs every contender once, usually on a smaller size.</param>
    /// <param name="contenders">Ours first, then the baselines.</param>
    /// <returns>The median sample of each contender, in the order given.</returns>
    public static double[] Alternate(int repetitions, Action warmUp, params Contender[] contenders)
    {
        var warm = Stopwatch.StartNew();
        for (var i = 0; i < 10 && (i < 2 || warm.Elapsed < MinimumWarmUp); i++)
        {
            warmUp();
        }

        var samples = contenders.Select(_ => new List<double>()).ToArray();
        for (var r = 0; r < repetitions; r++)
        {
            for (var c = 0; c < contenders.Length; c++)
            {
                Settle();
                samples[c].Add(contenders[c].Sample());
            }
        }

        for (var c = 0; c < contenders.Length; c++)
        {
            Console.Error.WriteLine($"      {contenders[c].Label}: [{string.Join(", ", samples[c].Select(G4))}]");
        }

        return samples.Select(Median).ToArray();
    }

    /// <summary>Collects garbage, runs pending finalizers and lets the thread pool's idle workers stop spinning.</summary>
    public static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Thread.Sleep(50);
    }

    /// <summary>Formats a throughput in millions of items per second.</summary>
    /// <param name="itemsPerSecond">Items per second.</param>
    /// <returns>For example "20.92 M/s".</returns>
    public static string Rate(double itemsPerSecond) => Invariant($"{itemsPerSecond / 1e6:F2} M/s");

    /// <summary>Formats a duration in s, ms or µs, whichever reads best.</summary>
    /// <param name="seconds">Seconds.</param>
    /// <returns>For example "1.044 s", "12.50 ms", "27.5 µs".</returns>
    public static string Time(double seconds) => seconds >= 0.1
        ? Invariant($"{seconds:F3} s")
        : seconds >= 1e-3 ? Invariant($"{seconds * 1e3:F2} ms") : Invariant($"{seconds * 1e6:F1} µs");

    /// <summary>Formats a byte count in MB, or in bytes when under one.</summary>
    /// <param name="bytes">Bytes.</param>
    /// <returns>For example "40.1 MB" or "4.70 B".</returns>
    public static string Bytes(double bytes) => bytes >= 1 << 20
        ? Invariant($"{bytes / (1 << 20):F1} MB")
        : Invariant($"{bytes:F2} B");

    /// <summary>Formats a ratio as "8.75x", or "-" when it is not finite (a zero on one side).</summary>
    /// <param name="value">The ratio.</param>
    /// <returns>The text.</returns>
    public static string Ratio(double value) => double.IsFinite(value) ? Invariant($"{value:F2}x") : "-";

    /// <summary>Formats a fraction as a percentage with three decimals.</summary>
    /// <param name="fraction">The fraction (0.01 is 1 %).</param>
    /// <returns>For example "0.039 %".</returns>
    public static string Percent(double fraction) => Invariant($"{fraction * 100:F3} %");

    /// <summary>Formats whether a target was met: "yes", or a bold "no" so that it stands out in the table.</summary>
    /// <param name="met">Whether it was met.</param>
    /// <returns>The text.</returns>
    public static string Met(bool met) => met ? "yes" : "**no**";

    /// <summary>Formats text with the invariant culture.</summary>
    /// <param name="text">The interpolated text.</param>
    /// <returns>The text.</returns>
    public static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string G4(double value) => value.ToString("G4", CultureInfo.InvariantCulture);
}
