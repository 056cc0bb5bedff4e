namespace JobQ.Dataflow;

/// <summary>
/// A speed limit for a stage of its own (jobq's <c>limit_job_speed</c>): made by
/// <see cref="JobQueue.LimitJobSpeed(double, int)"/> and added with <c>Workers.Then(limit)</c>.
/// </summary>
/// <remarks>
/// <para>The stage passes each item on unchanged, pacing them so that no more than the limit's units per second
/// go by; each item counts <see cref="JobStep"/> units. It waits on timers, never on a blocked thread.</para>
/// <para>It paces from a moving start, as jobq does: the count and the start time reset every 5 seconds (the speed
/// reached is logged at Information level), so a pause of 5 seconds or more never turns into a burst later; after a
/// shorter pause, items pass at once until the window's average is back at the rate.</para>
/// <para>A limit is immutable and may be used by several stages; each stage paces on its own.</para>
/// </remarks>
public sealed class SpeedLimit
{
    internal SpeedLimit(Func<double> maxJobSpeed, int jobStep)
    {
        MaxJobSpeed = maxJobSpeed;
        JobStep = jobStep;
    }

    /// <summary>Gets the units each item counts for (jobq's <c>job_step</c>).</summary>
    public int JobStep { get; }

    /// <summary>Gets the function read before every item for the limit in units per second.</summary>
    internal Func<double> MaxJobSpeed { get; }

    /// <summary>The period after which the pacing restarts from the current time and count, as in jobq.</summary>
    internal static TimeSpan ResetPeriod { get; } = TimeSpan.FromSeconds(5);
}
