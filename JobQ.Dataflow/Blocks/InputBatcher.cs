namespace JobQ.Dataflow.Internal;

/// <summary>
/// The head of a pipeline fed item by item (a pipeline block's target side, a <c>JobManager</c>'s puts): gathers the
/// items into a run and hands it to the first stage's door once the run is as long as the stage asks for, or at once
/// whenever the stage could start a run and has none queued, so that an item never waits for a run to fill.
/// </summary>
/// <typeparam name="T">The type of the items.</typeparam>
/// <remarks>
/// <para>Every item reserves its place in the first stage's queue when it is taken, so the items gathered here count
/// as waiting in that queue (its <c>Input.Size</c>) and within its capacity. When the queue is full, offers are
/// postponed, as a bounded Dataflow block postpones them, and consumed in order once there is room (so a link with
/// <c>MaxMessages</c> counts them); puts block, or await.</para>
/// <para><c>_lock</c> guards every field; it is held while handing a run to the door (whose lock never calls back
/// here) and while consuming from the source that is offering, never while consuming a postponed message.</para>
/// </remarks>
internal sealed class InputBatcher<T> : ITargetBlock<T>
{
    private readonly Lock _lock = new();
    private readonly Queue<(ISourceBlock<T> Source, DataflowMessageHeader Header)> _postponed = new();
    private readonly StageDoor<T> _door;
    private readonly RunLength _runLength;
    private T[]? _items;
    private int _count;
    private bool _declining;
    private bool _transferring;
    private bool _watchingRoom;
    private bool _completeRequested;

    public InputBatcher(StageDoor<T> door, RunLength runLength)
    {
        _door = door;
        _runLength = runLength;
        Owner = this;
        door.Starved = Flush;
    }

    public Task Completion => _door.Completion;

    /// <summary>Gets or sets the target that sources see: the block that was linked to (a propagator wrapping this head).</summary>
    /// <remarks>Messages are consumed in its name, so that a link's <c>MaxMessages</c> counts them.</remarks>
    public ITargetBlock<T> Owner { get; set; }

    /// <summary>Takes <paramref name="item"/>, blocking while the first queue is full; false if the head declines (completed or stopped).</summary>
    public bool Put(T item)
    {
        while (true)
        {
            var room = TryAddOrWatch(item);
            if (room is null)
            {
                return true;
            }

            if (!room.GetAwaiter().GetResult())
            {
                return false;
            }
        }
    }

    /// <summary>The async twin of <see cref="Put"/>: awaits room instead of blocking; a cancelled wait takes nothing.</summary>
    public async ValueTask<bool> PutAsync(T item, CancellationToken cancellationToken)
    {
        while (true)
        {
            var room = TryAddOrWatch(item);
            if (room is null)
            {
                return true;
            }

            if (!await room.WaitAsync(cancellationToken).ConfigureAwait(false))
            {
                return false;
            }
        }
    }

    public DataflowMessageStatus OfferMessage(DataflowMessageHeader messageHeader, T messageValue, ISourceBlock<T>? source, bool consumeToAccept)
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
            if (_declining || !_door.IsOpen)
            {
                return DataflowMessageStatus.DecliningPermanently;
            }

            if (_postponed.Count == 0 && !_transferring && _door.TryReserve(1))
            {
                if (consumeToAccept)
                {
                    messageValue = source!.ConsumeMessage(messageHeader, Owner, out var consumed)!;
                    if (!consumed)
                    {
                        _door.Started(1);
                        return DataflowMessageStatus.NotAvailable;
                    }
                }

                AddLocked(messageValue);
                return DataflowMessageStatus.Accepted;
            }

            if (source is null)
            {
                return DataflowMessageStatus.Declined;
            }

            _postponed.Enqueue((source, messageHeader));
            WatchRoomLocked();
            return DataflowMessageStatus.Postponed;
        }
    }

    /// <summary>Declines every later item, hands over what is gathered, and completes the first stage once that is done.</summary>
    public void Complete()
    {
        lock (_lock)
        {
            if (_declining)
            {
                return;
            }

            _declining = true;
            _postponed.Clear();
            FlushLocked();
            if (_transferring)
            {
                _completeRequested = true;
                return;
            }
        }

        _door.Complete();
    }

    /// <summary>Declines every later item (the pipeline is being stopped for a fault); the pipeline faults the blocks.</summary>
    public void Fault(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        lock (_lock)
        {
            _declining = true;
            _postponed.Clear();
        }
    }

    /// <summary>Hands what is gathered to the first stage; called when the stage runs dry.</summary>
    private void Flush()
    {
        lock (_lock)
        {
            FlushLocked();
        }
    }

    /// <summary>Adds the item if there is room (null), or returns a task that completes when there may be room.</summary>
    private Task<bool>? TryAddOrWatch(T item)
    {
        lock (_lock)
        {
            if (_declining)
            {
                return Task.FromResult(false);
            }

            if (_postponed.Count == 0 && !_transferring && _door.TryReserve(1))
            {
                AddLocked(item);
                return null;
            }

            return _door.WaitForRoomAsync(1);
        }
    }

    private void AddLocked(T item)
    {
        _items ??= ItemRun<T>.Rent(_runLength.Max);
        _items[_count++] = item;
        if (_count >= _runLength.Preferred || _count == _items.Length || _door.IsHungry)
        {
            FlushLocked();
        }
    }

    private void FlushLocked()
    {
        if (_count == 0)
        {
            return;
        }

        var run = new ItemRun<T>(_items!, _count);
        _items = null;
        _count = 0;
        if (!_door.AcceptReserved(run))
        {
            run.Return();
        }
    }

    private void WatchRoomLocked()
    {
        if (_watchingRoom)
        {
            return;
        }

        _watchingRoom = true;
        _door.WaitForRoomAsync(1).ContinueWith(
            static (room, state) => ((InputBatcher<T>)state!).TransferPostponed(room.Result),
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>Consumes postponed offers in order while there is room; consumed outside the lock (the source takes its own).</summary>
    private void TransferPostponed(bool room)
    {
        while (true)
        {
            (ISourceBlock<T> Source, DataflowMessageHeader Header) next;
            lock (_lock)
            {
                _watchingRoom = false;
                if (!room || _declining || _postponed.Count == 0)
                {
                    _postponed.Clear();
                    return;
                }

                if (!_door.TryReserve(1))
                {
                    WatchRoomLocked();
                    return;
                }

                next = _postponed.Dequeue();
                _transferring = true;
            }

            var value = next.Source.ConsumeMessage(next.Header, Owner, out var consumed);
            bool complete;
            lock (_lock)
            {
                _transferring = false;
                if (consumed)
                {
                    // Consumed before any Complete: accepted, so it goes through.
                    AddLocked(value!);
                }
                else
                {
                    _door.Started(1);
                }

                complete = _completeRequested;
                if (complete)
                {
                    FlushLocked();
                }
            }

            if (complete)
            {
                _door.Complete();
                return;
            }
        }
    }
}
