namespace JobQ.Dataflow.Internal;

/// <summary>
/// The target in front of a stage's block. It admits a run only when the stage can start it at once (fewer runs in
/// progress than <see cref="Concurrency"/>) and the stage's output queue has room; otherwise it postpones the offer, as
/// a bounded Dataflow block does, and consumes it once a run ends or room frees. So a stage holds only the runs it is
/// processing; the runs waiting for it stay in the block before it (jobq's queue, counted by <see cref="Input"/>), and a
/// stage whose outputs are not taken stops taking input, as jobq's workers block on a full queue.
/// </summary>
/// <typeparam name="T">The type of the stage's input items.</typeparam>
/// <remarks>
/// <para>Admitted runs go on to <see cref="Block"/> (the stage's <c>TransformManyBlock</c>, or a dispatcher's router)
/// in the order they were admitted, each stamped with its sequence number: admission and the hand-over happen under
/// the same lock, and while a postponed offer is being consumed, new offers are postponed behind it.</para>
/// <para>Because the door admits no more runs than the stage's concurrency, a resizable stage's concurrency is simply
/// <see cref="Concurrency"/>: its block's <c>MaxDegreeOfParallelism</c> is then only a cap.</para>
/// <para>Lock leveling as in Dataflow's own targets: <c>_lock</c> is held while consuming from the source that is
/// offering and while handing a run to <see cref="Block"/> (which never calls back); never while consuming a postponed
/// message.</para>
/// </remarks>
internal sealed class StageDoor<T> : ITargetBlock<ItemRun<T>>
{
    private readonly Lock _lock = new();
    private readonly CancellationToken _stop;

    // Guarded by _lock.
    private readonly Queue<Postponed> _postponed = new();
    private bool _declining;
    private bool _transferring;
    private bool _completeRequested;
    private long _sequence;

    // Written under _lock, decremented without it when a run ends.
    private int _running;

    // _postponed.Count, written under _lock, read without it by producers deciding whether to hand over at once.
    private int _postponedCount;

    // Items admitted whose outputs have not been passed on yet (ItemsEnded): what the stage already holds for its next
    // queue. Raised under _lock, lowered without it.
    private int _inFlight;

    /// <param name="block">The block that processes admitted runs.</param>
    /// <param name="input">The stage's queue: the items passed on to it and not taken yet.</param>
    /// <param name="concurrency">How many runs the stage processes at once.</param>
    /// <param name="stop">The pipeline's stop signal.</param>
    public StageDoor(ITargetBlock<ItemRun<T>> block, StageQueue input, int concurrency, CancellationToken stop)
    {
        Block = block;
        Input = input;
        _stop = stop;
        Concurrency = concurrency;
    }

    /// <summary>Gets the block that processes admitted runs.</summary>
    public ITargetBlock<ItemRun<T>> Block { get; }

    /// <summary>Gets the stage's input queue.</summary>
    public StageQueue Input { get; }

    /// <summary>
    /// Gets or sets how many runs the door admits beyond <see cref="Concurrency"/>: one more lets the block's processing
    /// task go straight on to the next run instead of ending and being scheduled again. Only for a block whose
    /// <c>MaxDegreeOfParallelism</c> is the concurrency itself (so the extra run waits).
    /// </summary>
    public int Prefetch { get; init; }

    /// <summary>
    /// Gets how many of the stage's workers may each hold a result beyond the next queue's room, as jobq's workers hold
    /// theirs while it is full; null for <see cref="Concurrency"/>. A dispatcher stage admits one run at a time (its
    /// router), but each of its partitions is a worker.
    /// </summary>
    public int? Holders { get; init; }

    /// <summary>Gets or sets the next stage's queue; null while the outputs are discarded (nothing holds the stage back).</summary>
    public StageQueue? Output
    {
        get;
        set
        {
            field = value;
            value?.RoomFreed = TransferPostponed;
        }
    }

    /// <summary>Gets or sets how many runs the stage processes at once; raising it admits postponed runs at once.</summary>
    public int Concurrency
    {
        get => Volatile.Read(ref field);
        set
        {
            Volatile.Write(ref field, value);
            TransferPostponed();
        }
    }

    /// <summary>
    /// Gets or sets what the stage's reordering holds back (keepOrder with several threads): the stage takes no run while
    /// that is a queue's worth, as jobq's workers wait on a full coordinator queue. Null for a stage that keeps no order.
    /// </summary>
    public OrderTracker? Order
    {
        get;
        set
        {
            field = value;
            value?.Released = TransferPostponed;
        }
    }

    /// <summary>Gets the runs admitted that have not ended.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>Gets how many runs the door has admitted.</summary>
    public long Admitted => Volatile.Read(ref _sequence);

    /// <summary>Gets whether the stage could start a run now and none is offered: a producer should hand over what it holds.</summary>
    public bool IsHungry => Running < Concurrency && Volatile.Read(ref _postponedCount) == 0;

    /// <summary>Gets whether a run offered now with no source would be admitted (a place, counting <see cref="Prefetch"/>, and no postponed offer ahead of it), barring a race.</summary>
    public bool CanTakeNow => Running < Concurrency + Prefetch && Volatile.Read(ref _postponedCount) == 0;

    /// <summary>Gets or sets what to call when the stage could start a run and none is offered (after a run ends or another is admitted): a producer holding items hands them over.</summary>
    public Action? Starved { get; set; }

    public Task Completion => Block.Completion;

    public DataflowMessageStatus OfferMessage(DataflowMessageHeader messageHeader, ItemRun<T> messageValue, ISourceBlock<ItemRun<T>>? source, bool consumeToAccept)
    {
        if (!messageHeader.IsValid)
        {
            throw new ArgumentException("The message header is not valid.", nameof(messageHeader));
        }

        if (source is null && consumeToAccept)
        {
            throw new ArgumentException("A message cannot be consumed from a null source.", nameof(consumeToAccept));
        }

        lock (_lock)
        {
            if (_declining || _stop.IsCancellationRequested)
            {
                return DataflowMessageStatus.DecliningPermanently;
            }

            if (_transferring || _postponed.Count != 0 || !CanAdmitLocked())
            {
                if (source is null)
                {
                    return DataflowMessageStatus.Declined;
                }

                _postponed.Enqueue(new Postponed(source, messageHeader));
                Volatile.Write(ref _postponedCount, _postponed.Count);
                return DataflowMessageStatus.Postponed;
            }

            if (consumeToAccept)
            {
                messageValue = source!.ConsumeMessage(messageHeader, this, out var consumed);
                if (!consumed)
                {
                    return DataflowMessageStatus.NotAvailable;
                }
            }

            AdmitLocked(messageValue);
        }

        NotifyIfStarved();
        return DataflowMessageStatus.Accepted;
    }

    /// <summary>The stage ended a run it was admitted: the next postponed run may start.</summary>
    /// <param name="items">The run's items whose outputs have now been passed on (0 for a dispatcher's router, whose items
    /// are passed on by the merge: see <see cref="ItemsEnded"/>).</param>
    public void RunEnded(int items)
    {
        Interlocked.Decrement(ref _running);
        Interlocked.Add(ref _inFlight, -items);
        TransferPostponed();
        NotifyIfStarved();
    }

    /// <summary>The outputs of <paramref name="items"/> admitted items have been passed on (a dispatcher's merge).</summary>
    public void ItemsEnded(int items)
    {
        Interlocked.Add(ref _inFlight, -items);
        TransferPostponed();
    }

    /// <summary>Tells a producer holding items to hand them over while the stage could start more runs than it was offered.</summary>
    private void NotifyIfStarved()
    {
        if (Starved is { } starved && IsHungry)
        {
            starved();
        }
    }

    public void Complete()
    {
        lock (_lock)
        {
            _declining = true;
            if (_transferring)
            {
                // The transfer in flight may hold a run it consumed but has not handed over yet; it completes the block.
                _completeRequested = true;
                return;
            }
        }

        Block.Complete();
    }

    public void Fault(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        lock (_lock)
        {
            _declining = true;
            _postponed.Clear();
            _postponedCount = 0;
        }

        Block.Fault(exception);
    }

    /// <summary>Declines every later run (the pipeline stopped); postponed messages stay with their sources.</summary>
    public void Cancel()
    {
        lock (_lock)
        {
            _declining = true;
            _postponed.Clear();
            _postponedCount = 0;
        }
    }

    /// <summary>Admits postponed offers, in order, while the stage can take them.</summary>
    private void TransferPostponed()
    {
        Postponed next;
        lock (_lock)
        {
            if (_transferring || !TryTakePostponedLocked(out next))
            {
                return;
            }

            _transferring = true;
        }

        // Consumed outside the lock (the source takes its own); offers arriving meanwhile are postponed behind.
        bool more;
        do
        {
            var value = next.Source.ConsumeMessage(next.Header, this, out var consumed);
            bool complete;
            lock (_lock)
            {
                if (consumed)
                {
                    AdmitLocked(value);
                }

                more = TryTakePostponedLocked(out next);
                _transferring = more;
                complete = !more && _completeRequested;
            }

            NotifyIfStarved();
            if (complete)
            {
                Block.Complete();
            }
        }
        while (more);
    }

    /// <summary>
    /// Whether a run may be admitted: a place among the runs in progress, and room in the next queue for what the stage
    /// already holds, give or take a result per worker (so a queue is overfilled by at most that and one run), and,
    /// under keepOrder, room in the coordinator.
    /// </summary>
    private bool CanAdmitLocked()
    {
        if (Volatile.Read(ref _running) >= Concurrency + Prefetch || (Order is not null && Order.Parked >= Input.Capacity))
        {
            return false;
        }

        // As jobq's workers each hold their result while the next queue is full, the stage may hold a result per worker
        // beyond the queue's room.
        var inFlight = Volatile.Read(ref _inFlight);
        return Output is null || (inFlight == 0 ? Output.HasRoom : Output.Waiting + inFlight < Output.Capacity + (Holders ?? Concurrency));
    }

    private bool TryTakePostponedLocked(out Postponed next)
    {
        if (!_declining && !_stop.IsCancellationRequested && _postponed.Count != 0 && CanAdmitLocked())
        {
            next = _postponed.Dequeue();
            Volatile.Write(ref _postponedCount, _postponed.Count);
            return true;
        }

        next = default;
        return false;
    }

    /// <summary>
    /// Hands a run to the block. Its items stay in <see cref="Input"/> until the stage starts them, so a run the stopped
    /// pipeline drops here, or that never starts, stays counted where it waited, as jobq's queues keep their items after
    /// a stop.
    /// </summary>
    private void AdmitLocked(ItemRun<T> run)
    {
        if (_stop.IsCancellationRequested)
        {
            run.Return();
            return;
        }

        Interlocked.Increment(ref _running);
        Interlocked.Add(ref _inFlight, run.Count);
        var sequence = _sequence;
        Volatile.Write(ref _sequence, sequence + 1);
        if (!Block.Post(run.WithSequence(sequence)))
        {
            // The block stopped between the check and the hand-over: the run is dropped with everything the stopped
            // pipeline held.
            Interlocked.Decrement(ref _running);
            Interlocked.Add(ref _inFlight, -run.Count);
            run.Return();
        }
    }

    private readonly record struct Postponed(ISourceBlock<ItemRun<T>> Source, DataflowMessageHeader Header);
}
