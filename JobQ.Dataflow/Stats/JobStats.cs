using System.Globalization;

namespace JobQ.Dataflow;

/// <summary>A snapshot of a running or finished pipeline, as returned by jobq's <c>stat()</c>.</summary>
public sealed class JobStats
{
    internal JobStats(IReadOnlyList<StageStats> stages)
    {
        Stages = stages;
        foreach (var stage in stages)
        {
            In += stage.In;
            Out += stage.Out;
        }
    }

    /// <summary>Gets the number of worker calls started, summed over all stages (jobq's <c>in</c>).</summary>
    public long In { get; }

    /// <summary>Gets the number of worker calls finished, summed over all stages (jobq's <c>out</c>).</summary>
    public long Out { get; }

    /// <summary>Gets the number of worker calls in progress now (jobq's <c>doing</c>).</summary>
    public long Doing => In - Out;

    /// <summary>Gets one entry per stage, in pipeline order (jobq's <c>workers</c>); no hidden extra stage.</summary>
    public IReadOnlyList<StageStats> Stages { get; }

    /// <summary>An empty snapshot, for a probe that has not been used by a run yet.</summary>
    internal static JobStats Empty { get; } = new([]);

    /// <summary>Returns the counts as a C# record prints them, each stage's in full: <c>JobStats { In = 8, ..., Stages = [ ... ] }</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString()
        => string.Create(CultureInfo.InvariantCulture, $"JobStats {{ In = {In}, Out = {Out}, Doing = {Doing}, Stages = {List(Stages)} }}");

    /// <summary>Prints <paramref name="items"/> as <c>[ a, b ]</c>.</summary>
    internal static string List<T>(IEnumerable<T> items) => $"[ {string.Join(", ", items)}{(items.Any() ? " " : string.Empty)}]";
}
