using System.Threading.Tasks.Sources;

namespace JobQ.Dataflow.Internal;

/// <summary>A waiter for an async lane: a reusable <see cref="IValueTaskSource"/>, so awaiting allocates nothing.</summary>
internal sealed class AsyncWaiter : Waiter, IValueTaskSource
{
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };

    // 0 armed, 1 signalled: makes Signal idempotent, as SetResult may be called once per wait.
    private int _signalled = 1;

    public override void Prepare()
    {
        _core.Reset();
        Volatile.Write(ref _signalled, 0);
    }

    /// <summary>Completes when <see cref="Signal"/> is called.</summary>
    public ValueTask WaitAsync() => new(this, _core.Version);

    public override void Signal()
    {
        if (Interlocked.Exchange(ref _signalled, 1) == 0)
        {
            _core.SetResult(true);
        }
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);
}
