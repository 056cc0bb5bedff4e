namespace JobQ.Dataflow.Internal;

/// <summary>
/// A stage that can process a run of its input on the thread of the lane that produced it: one of its idle lanes is
/// lent to that thread (see <see cref="ItemQueue{T}.TryLendIdleReader"/>), which saves the hand-over between threads
/// when the stage is cheap. The stage's semantics are unchanged: the lent lane is one of its own, so the thread count,
/// the order of keys, the counters and the error handling are those of a run the lane had taken itself.
/// </summary>
internal interface IInlineConsumer<T>
{
    /// <summary>Gets whether a run of <paramref name="count"/> items is expected to be cheap enough to run inline.</summary>
    bool IsCheap(int count);

    /// <summary>
    /// Processes the first <paramref name="count"/> items of <paramref name="items"/> on the calling thread, if an idle
    /// lane is free and the queue is empty; <paramref name="waiter"/> is the calling thread's own waiter, used for any
    /// wait the run needs. The caller may reuse <paramref name="items"/> once this returns.
    /// </summary>
    /// <returns>Whether the items were taken (processed, or failed and reported); false leaves them to the caller.</returns>
    bool TryRunInline(T[] items, int count, SyncWaiter waiter);
}

/// <summary>A lane that a queue can lend to a writer's thread for one run.</summary>
internal interface IBorrowableLane<T>
{
    /// <summary>Processes a run on the calling thread as this lane, then gives the lane back to its queue.</summary>
    void RunLent(T[] items, int count, long sequence, SyncWaiter waiter);
}
