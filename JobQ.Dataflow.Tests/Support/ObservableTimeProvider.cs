using Microsoft.Extensions.Time.Testing;

namespace JobQ.Dataflow.Tests.Support;

/// <summary>A fake clock that also tells when a timer was created, so a test advances it only once Join armed its timeout.</summary>
internal sealed class ObservableTimeProvider : FakeTimeProvider
{
    private readonly TaskCompletionSource _timerCreated = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task TimerCreated => _timerCreated.Task;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        _timerCreated.TrySetResult();
        return timer;
    }
}
