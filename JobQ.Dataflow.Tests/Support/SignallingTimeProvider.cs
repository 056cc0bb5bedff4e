using Microsoft.Extensions.Time.Testing;

namespace JobQ.Dataflow.Tests.Support;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that also signals every timer created on it (a <c>Task.Delay</c> on this
/// clock creates one), so a test can advance fake time only once the code under test is waiting on it.
/// </summary>
internal sealed class SignallingTimeProvider : TimeProvider
{
    private readonly SemaphoreSlim _created = new(0);
    private int _timers;

    /// <summary>Gets the fake clock to advance.</summary>
    public FakeTimeProvider Fake { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    /// <summary>Gets how many timers were created.</summary>
    public int TimersCreated => Volatile.Read(ref _timers);

    /// <summary>Gets the fake time elapsed since the clock was made.</summary>
    public TimeSpan Elapsed => Fake.GetUtcNow() - Start;

    private DateTimeOffset Start { get; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => Fake.GetUtcNow();

    public override long GetTimestamp() => Fake.GetTimestamp();

    public override long TimestampFrequency => Fake.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => Fake.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = Fake.CreateTimer(callback, state, dueTime, period);
        Interlocked.Increment(ref _timers);
        _created.Release();
        return timer;
    }

    /// <summary>Waits (bounded) until one more timer has been created.</summary>
    public void WaitTimerCreated(string what) => Bounded.Take(_created, what);

    /// <summary>Advances the fake clock.</summary>
    public void Advance(TimeSpan delta) => Fake.Advance(delta);
}
