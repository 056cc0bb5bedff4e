namespace JobQ.Dataflow.Internal;

/// <summary>
/// The target in front of a stage's block: admits runs while the stage's <see cref="StageQueue"/> has room in items,
/// and postpones offers otherwise, as a bounded Dataflow block does, consuming them in order once room frees.
/// </summary>
/// <typeparam name="T">The type of the stage's input items.</typeparam>
/// <remarks>
/// <para>Admitted runs go on to <see cref="Block"/> (the stage's unbounded <c>TransformManyBlock</c>, or a
/// dispatcher's router) in the order they were admitted: admission and the hand-over happen under the same lock, and
/// while postponed offers are being consumed, new offers are postponed behind them.</para>
/// <para>Lock leveling as in Dataflow's own targets: the lock is held while calling the source that is offering (to
/// consume the message it offers) and while handing a run to <see cref="Block"/>, which never calls back; it is never
/// held while consuming a postponed message, or while telling the stage before that its backlog shrank.</para>
/// </remarks>
internal sealed class StageDoor<T> : StageQueue, ITargetBlock<ItemRun<T>>
{
    // Guarded by Lock.
    private readonly Queue<Postponed> _postponed = new();
    private bool _transferring;
    private bool _completeRequested;

    public StageDoor(ITargetBlock<ItemRun<T>> block, int capacity, int backlogLimit, CancellationToken stop)
        : base(capacity, backlogLimit, stop)
    {
        Block = block;
    }

    /// <summary>Gets the block that processes admitted runs.</summary>
    public ITargetBlock<ItemRun<T>> Block { get; }

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

        int admitted;
        lock (Lock)
        {
            if (Declining || Stop.IsCancellationRequested)
            {
                return DataflowMessageStatus.DecliningPermanently;
            }

            if (_transferring || _postponed.Count != 0 || !HasRoomLocked(messageValue.Count))
            {
                if (source is null)
                {
                    return DataflowMessageStatus.Declined;
                }

                _postponed.Enqueue(new Postponed(source, messageHeader, messageValue.Count));
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

            admitted = AdmitLocked(messageValue, reserved: false);
        }

        Upstream?.ReleaseBacklog(admitted);
        return DataflowMessageStatus.Accepted;
    }

    /// <summary>Admits a run from a producer of our own (an input reader) if there is room now.</summary>
    public bool TryAccept(ItemRun<T> run)
    {
        lock (Lock)
        {
            if (Declining || Stop.IsCancellationRequested || !HasRoomLocked(run.Count))
            {
                return false;
            }

            AdmitLocked(run, reserved: false);
            return true;
        }
    }

    /// <summary>Admits a run whose room was reserved with <see cref="StageQueue.TryReserve"/>; false if the door declines now.</summary>
    public bool AcceptReserved(ItemRun<T> run)
    {
        lock (Lock)
        {
            if (Declining || Stop.IsCancellationRequested)
            {
                return false;
            }

            AdmitLocked(run, reserved: true);
            return true;
        }
    }

    public void Complete()
    {
        lock (Lock)
        {
            Declining = true;
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
        lock (Lock)
        {
            Declining = true;
            ForgetPostponedLocked();
        }

        Block.Fault(exception);
    }

    protected override void TransferPostponed()
    {
        Postponed next;
        lock (Lock)
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
            var admitted = 0;
            bool complete;
            lock (Lock)
            {
                if (consumed)
                {
                    if (Stop.IsCancellationRequested)
                    {
                        value.Return();
                    }
                    else
                    {
                        admitted = AdmitLocked(value, reserved: false);
                    }
                }

                more = TryTakePostponedLocked(out next);
                _transferring = more;
                complete = !more && _completeRequested;
            }

            if (admitted != 0)
            {
                Upstream?.ReleaseBacklog(admitted);
            }

            if (complete)
            {
                Block.Complete();
            }
        }
        while (more);
    }

    protected override void ForgetPostponedLocked() => _postponed.Clear();

    private bool TryTakePostponedLocked(out Postponed next)
    {
        if (!Declining && !Stop.IsCancellationRequested && _postponed.TryPeek(out next) && HasRoomLocked(next.Count))
        {
            _postponed.Dequeue();
            return true;
        }

        next = default;
        return false;
    }

    private int AdmitLocked(ItemRun<T> run, bool reserved)
    {
        AdmittedLocked(run.Count, reserved);
        if (!Block.Post(run))
        {
            // The block stopped between our check and the hand-over (its cancellation token fired): the run is dropped
            // with everything else the stopped pipeline held.
            run.Return();
        }

        return run.Count;
    }

    private readonly record struct Postponed(ISourceBlock<ItemRun<T>> Source, DataflowMessageHeader Header, int Count);
}
