namespace JobQ.Dataflow.Internal;

/// <summary>
/// One party waiting on a queue or a reorderer. Each lane owns one waiter of its kind and reuses it for every
/// wait, so waiting allocates nothing.
/// </summary>
internal abstract class Waiter
{
    /// <summary>Intrusive link for <see cref="WaiterList"/>; guarded by the lock of the list's owner.</summary>
    internal Waiter? Next;

    /// <summary>Arms the waiter before it is listed; called under the lock that lists it.</summary>
    public abstract void Prepare();

    /// <summary>Wakes the waiter. Called outside any lock; safe to call more than once per wait.</summary>
    public abstract void Signal();
}
