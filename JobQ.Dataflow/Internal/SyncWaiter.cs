namespace JobQ.Dataflow.Internal;

/// <summary>A waiter for a dedicated thread: blocks it (spinning briefly first) until signalled.</summary>
internal sealed class SyncWaiter : Waiter
{
    private readonly ManualResetEventSlim _event = new(initialState: false);

    public override void Prepare() => _event.Reset();

    /// <summary>Blocks until <see cref="Signal"/> is called.</summary>
    public void Wait() => _event.Wait();

    public override void Signal() => _event.Set();
}
