namespace JobQ.Dataflow.Internal;

/// <summary>
/// Takes an interrupt that user code left pending on the current thread (<see cref="Thread.Interrupt"/> on a thread
/// that then returned to us). Left there, it would surface at the thread's next blocking wait: the library's own (a
/// contended lock, a wait for room) or the next item's call.
/// </summary>
internal static class ThreadInterrupt
{
    /// <summary>Takes a pending interrupt of the current thread, if any. Costs a fraction of a microsecond: called after
    /// slow calls, failures and runs, never per cheap call.</summary>
    public static void Clear()
    {
        try
        {
            // A zero wait is enough to raise a pending interrupt, and is far cheaper than Thread.Sleep(0), which yields.
            Thread.CurrentThread.Join(0);
        }
        catch (ThreadInterruptedException)
        {
            // Taken: the thread is clean again.
        }
    }

    /// <summary>
    /// Returns <paramref name="call"/> to be awaited, first taking a pending interrupt if the call has not completed:
    /// the thread then goes back to Dataflow or the pool while the call waits.
    /// </summary>
    public static ValueTask Awaiting(ValueTask call)
    {
        if (!call.IsCompleted)
        {
            Clear();
        }

        return call;
    }
}
