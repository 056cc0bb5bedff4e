namespace JobQ.Dataflow.Internal;

/// <summary>
/// The entrance of a pipeline fed item by item (a pipeline block's target side, a <c>JobManager</c>'s puts): gathers
/// the items into a run and hands it to the <see cref="PipelineHead{T}"/> once the run is as long as the first stage
/// asks for, or at once whenever the stage could start a run and has none waiting, so that an item never waits for a
/// run to fill.
/// </summary>
/// <typeparam name="T">The type of the items.</typeparam>
/// <remarks>
/// <para>Every item is counted into the first stage's queue when it is taken, so the items gathered here count as
/// waiting in that queue (its <c>Input.Size</c>) and within its capacity. When the queue is full, offers are
/// postponed, as a bounded Dataflow block postpones them, and consumed in order once there is room (so a link with
/// <c>MaxMessages</c> counts them); puts block, or await.</para>
/// <para><c>_lock</c> guards every field; it is held while handing a run to the head's buffer (which never calls back
/// here) and while consuming from the source that is offering, never while consuming a postponed message.</para>
/// </remarks>
internal sealed class InputBatcher<T> : ITargetBlock<T>
{
    private readonly Lock _lock = new();
    private readonly Queue<(ISourceBlock<T> Source, DataflowMessageHeader Header)> _postponed = new();
    private readonly PipelineHead<T> _head;
    private readonly CancellationToken _stop;
    private T[]? _items;
    private int _count;
    private bool _declining;
    private bool _transferring;
    private bool _watchingRoom;
    private bool _completeRequested;

    public InputBatcher(PipelineHead<T> head, CancellationToken stop)
    {
        _head = head;
        _stop = stop;
        Owner = this;
        head.First.Door.Starved = Flush;
    }

    public Task Completion => _head.First.Door.Completion;

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
            if (_declining || _stop.IsCancellationRequested)
            {
                return DataflowMessageStatus.DecliningPermanently;
            }

            if (_postponed.Count == 0 && !_transferring && TryReserveLocked())
            {
                if (consumeToAccept)
                {
                    messageValue = source!.ConsumeMessage(messageHeader, Owner, out var consumed)!;
                    if (!consumed)
                    {
                        _head.Queue.Take(1);
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

        _head.Complete();
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
            if (_declining || _stop.IsCancellationRequested)
            {
                return Task.FromResult(false);
            }

            if (_postponed.Count == 0 && !_transferring && TryReserveLocked())
            {
                AddLocked(item);
                return null;
            }

            return _head.Queue.WaitForRoomAsync();
        }
    }

    /// <summary>Counts one more item into the first stage's queue if it has room: the item's place is reserved.</summary>
    private bool TryReserveLocked()
    {
        if (!_head.Queue.HasRoom)
        {
            return false;
        }

        _head.Queue.Add(1);
        return true;
    }

    private void AddLocked(T item)
    {
        _items ??= ItemRun<T>.Rent(_head.RunLength.Max);
        _items[_count++] = item;
        if (_count >= _head.RunLength.Preferred || _count == _items.Length || _head.IsHungry(_count))
        {
            FlushLocked();
        }
    }

    /// <summary>
    /// Hands what is gathered to the head: as one run, or, while the first stage has idle workers, as one run per idle
    /// worker, so that items put while workers wait are spread over them rather than queued behind each other.
    /// </summary>
    private void FlushLocked()
    {
        if (_count == 0)
        {
            return;
        }

        var door = _head.First.Door;
        var pieces = Math.Min(_count, Math.Max(1, door.Concurrency - door.Running));
        var size = _count / pieces;
        var first = _count - (size * (pieces - 1));
        var rest = new ItemRun<T>[pieces - 1];
        for (var i = 0; i < rest.Length; i++)
        {
            // Copied out before the first run is handed over: from then on the stage owns (and may recycle) the array.
            var piece = ItemRun<T>.Rent(size);
            Array.Copy(_items!, first + (i * size), piece, 0, size);
            rest[i] = new ItemRun<T>(piece, size);
        }

        var run = new ItemRun<T>(_items!, first);
        _items = null;
        _count = 0;
        _head.PostCounted(run);
        foreach (var piece in rest)
        {
            _head.PostCounted(piece);
        }
    }

    private void WatchRoomLocked()
    {
        if (_watchingRoom)
        {
            return;
        }

        _watchingRoom = true;

        // Never inline: the transfer consumes from sources, which must not happen under this lock.
        _head.Queue.WaitForRoomAsync().ContinueWith(
            static (room, state) => ((InputBatcher<T>)state!).TransferPostponed(room.Result),
            this,
            CancellationToken.None,
            TaskContinuationOptions.RunContinuationsAsynchronously,
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
                if (_transferring)
                {
                    // Another transfer is consuming; it goes on with what is postponed, in order.
                    return;
                }

                if (!room || _declining || _postponed.Count == 0)
                {
                    _postponed.Clear();
                    return;
                }

                if (!TryReserveLocked())
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
                    _head.Queue.Take(1);
                }

                complete = _completeRequested;
                if (complete)
                {
                    FlushLocked();
                }
            }

            if (complete)
            {
                _head.Complete();
                return;
            }
        }
    }
}
