namespace JobQ.Dataflow;

/// <summary>How a run ended: finished, or stopped at its timeout; and its final statistics.</summary>
public sealed class JobRunResult
{
    internal JobRunResult(bool completed, JobStats stats)
    {
        Completed = completed;
        Stats = stats;
    }

    /// <summary>Gets whether every input item went through the pipeline; <see langword="false"/> when the timeout passed first.</summary>
    public bool Completed { get; }

    /// <summary>Gets whether the run stopped because its timeout passed.</summary>
    public bool TimedOut => !Completed;

    /// <summary>Gets the statistics of the run when it returned.</summary>
    public JobStats Stats { get; }
}
