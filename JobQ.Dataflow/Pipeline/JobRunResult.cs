using System.Globalization;

namespace JobQ.Dataflow;

/// <summary>How a run ended: finished, or stopped at its timeout; and its final statistics.</summary>
public sealed class JobRunResult
{
    internal JobRunResult(bool completed, JobStats stats)
    {
        Completed = completed;
        Stats = stats;
        foreach (var stage in stats.Stages)
        {
            Failed += stage.Failed;
        }
    }

    /// <summary>Gets whether every input item went through the pipeline; <see langword="false"/> when the timeout passed first.</summary>
    public bool Completed { get; }

    /// <summary>Gets whether the run stopped because its timeout passed.</summary>
    public bool TimedOut => !Completed;

    /// <summary>Gets the statistics of the run when it returned.</summary>
    public JobStats Stats { get; }

    /// <summary>
    /// Gets how many worker calls of the run failed, summed over its stages (each stage's <see cref="StageStats.Failed"/>):
    /// 0 when every call succeeded. A run can complete with failures: under the default <see cref="ErrorPolicy.LogAndDrop"/>,
    /// and with a handler, a failed call's item is dropped and the run goes on.
    /// </summary>
    public long Failed { get; }

    /// <summary>Returns the result as a C# record prints it: <c>JobRunResult { Completed = True, Failed = 0, Stats = ... }</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString()
        => string.Create(CultureInfo.InvariantCulture, $"JobRunResult {{ Completed = {Completed}, Failed = {Failed}, Stats = {Stats} }}");
}
