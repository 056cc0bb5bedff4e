using System.Globalization;

namespace JobQ.Dataflow.Benchmarks.Infrastructure;

/// <summary>
/// The quick mode's options: which cases run, where the table is also written, and whether this is a smoke run
/// (every item count divided by 100 and at most two samples per figure: a check that every case works, whose figures
/// mean nothing).
/// </summary>
internal sealed class QuickSettings
{
    private const int SmokeDivisor = 100;

    private QuickSettings(string? only, string? outputPath, bool smoke, IReadOnlyList<string> arguments)
    {
        Only = only;
        OutputPath = outputPath;
        Smoke = smoke;
        Arguments = arguments;
    }

    /// <summary>Gets the substring a case's name must contain to run, or null for every case.</summary>
    public string? Only { get; }

    /// <summary>Gets the file the markdown table is also written to, or null.</summary>
    public string? OutputPath { get; }

    /// <summary>Gets a value indicating whether sizes are shrunk 100x and samples cut to two (<c>--smoke</c>).</summary>
    public bool Smoke { get; }

    /// <summary>Gets the command-line arguments as given, for the table's header.</summary>
    public IReadOnlyList<string> Arguments { get; }

    /// <summary>Parses the arguments after <c>--quick</c>; returns null and prints why on stderr if they are wrong.</summary>
    /// <param name="arguments">Every argument of the process, <c>--quick</c> included.</param>
    /// <returns>The settings, or null.</returns>
    public static QuickSettings? Parse(string[] arguments)
    {
        string? only = null, output = null;
        var smoke = false;
        for (var i = 0; i < arguments.Length; i++)
        {
            switch (arguments[i])
            {
                case "--quick":
                    break;
                case "--smoke":
                    smoke = true;
                    break;
                case "--only" when i + 1 < arguments.Length:
                    only = arguments[++i];
                    break;
                case "--out" when i + 1 < arguments.Length:
                    output = arguments[++i];
                    break;
                default:
                    Console.Error.WriteLine($"Unknown or incomplete option '{arguments[i]}'. Usage: --quick [--only SUBSTRING] [--out FILE] [--smoke]");
                    return null;
            }
        }

        return new QuickSettings(only, output, smoke, arguments);
    }

    /// <summary>Returns an item count: <paramref name="items"/>, or a hundredth of it (at least 1) in a smoke run.</summary>
    /// <param name="items">The count of a measuring run.</param>
    /// <returns>The count to use.</returns>
    public int Size(int items) => Smoke ? Math.Max(1, items / SmokeDivisor) : items;

    /// <summary>Returns a sample count: <paramref name="samples"/>, or at most 2 in a smoke run.</summary>
    /// <param name="samples">The count of a measuring run.</param>
    /// <returns>The count to use.</returns>
    public int Samples(int samples) => Smoke ? Math.Min(2, samples) : samples;

    /// <summary>Formats an item count for a row's label: 10M, 1M, 20,000.</summary>
    /// <param name="items">The count.</param>
    /// <returns>The label.</returns>
    public static string Count(int items) => items >= 1_000_000 && items % 1_000_000 == 0
        ? string.Create(CultureInfo.InvariantCulture, $"{items / 1_000_000}M")
        : items.ToString("N0", CultureInfo.InvariantCulture);
}
