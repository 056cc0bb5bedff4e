using System.Collections.Concurrent;

namespace JobQ.Dataflow.Tests.Support;

/// <summary>
/// A clock whose timers fire at once (asynchronously, on a real zero-due timer) and that records every finite due
/// time it was asked for, at creation or through <see cref="ITimer.Change"/>: Polly's backoff delays and timeouts can
/// be asserted exactly without racing a fake clock's timer registration.
/// </summary>
internal sealed class ImmediateTimeProvider : TimeProvider
{
    private readonly ConcurrentQueue<TimeSpan> _requested = new();

    /// <summary>Gets the finite due times requested so far, in order.</summary>
    public IReadOnlyList<TimeSpan> RequestedDueTimes => [.. _requested];

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        => new ImmediateTimer(this, TimeProvider.System.CreateTimer(callback, state, Immediate(dueTime), period));

    private TimeSpan Immediate(TimeSpan dueTime)
    {
        if (dueTime == Timeout.InfiniteTimeSpan)
        {
            return dueTime;
        }

        _requested.Enqueue(dueTime);
        return TimeSpan.Zero;
    }

    private sealed class ImmediateTimer(ImmediateTimeProvider owner, ITimer inner) : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => inner.Change(owner.Immediate(dueTime), period);

        public void Dispose() => inner.Dispose();

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
