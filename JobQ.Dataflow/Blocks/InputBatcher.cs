namespace JobQ.Dataflow.Internal;

/// <summary>
/// The entrance of a pipeline fed item by item (a pipeline block's target side, a <c>JobManager</c>'s puts): gathers
/// the items into a run and hands it to the <see cref="PipelineHead{T}"/> once the run is as long as the first stage
/// asks for, or at once whenever the stage could start a run and has none waiting, so that an item never waits for a
/// run to fill.
/// </summary>
/// <typeparam name="T">The type of the items.</typeparam>
/// <remarks>
/// <para>The items gathered here count as waiting in the first stage's queue (its <c>Input.Size</c>) and within its
/// capacity, through <see cref="StageQueue.Pending"/>. When the queue is full, offers are
/// postponed, as a bounded Dataflow block postpones them, and consumed in order once there is room (so a link with
/// <c>MaxMessages</c> counts them); puts block, or await.</para>
/// <para><c>_lock</c> guards every field; it is held while posting a run to the head's buffer (a post only queues the
/// run, and the buffer offers it to the first stage from a task of its own) and while consuming from the source that
/// is offering; never while consuming a postponed message, nor while taking runs out of the buffer, since the buffer's
/// offers reach the first stage's door, whose <c>Starved</c> calls <see cref="Flush"/> here.</para>
/// </remarks>
internal sealed class InputBatcher<T> : ITargetBlock<T>
{
    private readonly Lock _lock = new();
    // The offers postponed here, one per source (its latest), in the order the sources first offered, as Dataflow's
    // own targets keep them: a source whose earlier messages went elsewhere meanwhile does not pile up here.
    private readonly Queue<ISourceBlock<T>> _postponed = new();
    private readonly Dictionary<ISourceBlock<T>, DataflowMessageHeader> _postponedHeader = new(ReferenceEqualityComparer.Instance);
    private readonly PipelineHead<T> _head;
    private readonly CancellationToken _stop;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private T[]? _items;
    private int _count;
    private int _waitingPuts;
    private bool _joining;
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

    /// <summary>Takes <paramref name="item"/>, blocking while the first queue is full.</summary>
    /// <returns>Whether the item was taken, or refused because joining began or the pipeline stopped.</returns>
    public PutResult Put(T item)
    {
        var room = TryPut(item, hasRoom: null, out var result);
        try
        {
            while (room is not null)
            {
                room = TryPut(item, room.GetAwaiter().GetResult(), out result);
            }
        }
        catch (Exception)
        {
            // Left while waiting for room (the thread was interrupted): as a cancelled PutAsync, the put gives up its
            // place among those a join waits for, or the join would wait for it forever.
            lock (_lock)
            {
                LeaveWaitLocked();
            }

            throw;
        }

        return result;
    }

    /// <summary>The async twin of <see cref="Put"/>: awaits room instead of blocking; a cancelled wait takes nothing.</summary>
    public async ValueTask<PutResult> PutAsync(T item, CancellationToken cancellationToken)
    {
        var room = TryPut(item, hasRoom: null, out var result);
        while (room is not null)
        {
            bool hasRoom;
            try
            {
                hasRoom = await room.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                lock (_lock)
                {
                    LeaveWaitLocked();
                }

                throw;
            }

            room = TryPut(item, hasRoom, out result);
        }

        return result;
    }

    /// <summary>
    /// One try of a put, shared by <see cref="Put"/> and <see cref="PutAsync"/>: null with the outcome once it is
    /// settled, else the wait for room after which to try again (<paramref name="hasRoom"/> is null on the first try,
    /// then what that wait gave).
    /// </summary>
    private Task<bool>? TryPut(T item, bool? hasRoom, out PutResult result)
    {
        lock (_lock)
        {
            var settled = hasRoom is { } room
                ? TryAddAfterWaitLocked(item, room, out result)
                : TryAddLocked(item, waiting: false, out result);
            return settled ? null : _head.Queue.WaitForRoomAsync();
        }
    }

    /// <summary>
    /// Stops taking new puts; completes once the puts already waiting for room have gone in (or the pipeline stopped),
    /// so that a put that began before the join is never refused halfway.
    /// </summary>
    public Task BeginJoin()
    {
        lock (_lock)
        {
            _joining = true;
            if (_waitingPuts == 0)
            {
                Close();
            }
        }

        return _drained.Task;
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

            if (!_postponedHeader.ContainsKey(source))
            {
                _postponed.Enqueue(source);
            }

            _postponedHeader[source] = messageHeader;

            WatchRoomLocked();
            return DataflowMessageStatus.Postponed;
        }
    }

    /// <summary>
    /// Declines every later item and releases the offers postponed here, hands over what is gathered, and completes the
    /// first stage once that is done.
    /// </summary>
    public void Complete()
    {
        (ISourceBlock<T> Source, DataflowMessageHeader Header)[] postponed;
        bool completeNow;
        lock (_lock)
        {
            if (_declining)
            {
                return;
            }

            _declining = true;
            postponed = TakePostponedLocked();
            FlushLocked();

            // A transfer in flight may hold an item it consumed but has not added yet; it completes the stage.
            completeNow = !_transferring;
            _completeRequested = !completeNow;
        }

        Release(postponed);
        if (completeNow)
        {
            _head.Complete();
        }
    }

    /// <inheritdoc cref="DeclineForFault"/>
    public void Fault(Exception exception) => DeclineForFault(exception);

    /// <summary>
    /// Declines every later item and releases the offers postponed here (the pipeline is being stopped for a fault);
    /// the pipeline faults the blocks.
    /// </summary>
    /// <returns>False when the head already declined for good (<see cref="Complete"/>): as Dataflow's blocks then keep no
    /// fault from outside, the pipeline goes on, and only the items still waiting for the first stage are dropped.</returns>
    public bool DeclineForFault(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        (ISourceBlock<T> Source, DataflowMessageHeader Header)[] postponed;
        bool completing;
        lock (_lock)
        {
            completing = _declining;
            _declining = true;
            postponed = completing ? [] : TakePostponedLocked();
        }

        if (completing)
        {
            // Outside the lock: the head's buffer may be offering to the first stage, whose door calls Flush here.
            _head.DropWaiting(uncount: true);
            return false;
        }

        Release(postponed);
        return true;
    }

    /// <summary>Hands what is gathered to the first stage; called when the stage runs dry.</summary>
    private void Flush()
    {
        lock (_lock)
        {
            FlushLocked();
        }
    }

    /// <summary>A put's first try: true with the outcome when it is settled; false when it must wait for room (counted as waiting).</summary>
    private bool TryAddLocked(T item, bool waiting, out PutResult result)
    {
        if (_declining || _stop.IsCancellationRequested)
        {
            result = PutResult.Stopped;
            return true;
        }

        if (_joining && !waiting)
        {
            result = PutResult.Joined;
            return true;
        }

        if (_postponed.Count == 0 && !_transferring && TryReserveLocked())
        {
            AddLocked(item);
            result = PutResult.Added;
            return true;
        }

        if (!waiting)
        {
            _waitingPuts++;
        }

        result = default;
        return false;
    }

    /// <summary>A waiting put's next try, once the queue may have room.</summary>
    private bool TryAddAfterWaitLocked(T item, bool hasRoom, out PutResult result)
    {
        if (!hasRoom)
        {
            LeaveWaitLocked();
            result = PutResult.Stopped;
            return true;
        }

        if (TryAddLocked(item, waiting: true, out result))
        {
            LeaveWaitLocked();
            return true;
        }

        return false;
    }

    private void LeaveWaitLocked()
    {
        if (--_waitingPuts == 0 && _joining)
        {
            Close();
        }
    }

    /// <summary>Joining, with no put left waiting: no item comes in any more.</summary>
    private void Close()
    {
        _head.First.Pipeline.CloseInput();
        _drained.TrySetResult();
    }

    /// <summary>Whether the first stage's queue has room for one more item (the items gathered here count in it).</summary>
    private bool TryReserveLocked() => _head.Queue.HasRoom;

    private void AddLocked(T item)
    {
        _items ??= ItemRun<T>.Rent(_head.RunLength.Max);
        _items[_count++] = item;
        _head.Queue.Pending = _count;

        // Whether the stage is hungry is asked for a run's first item only: once it is not, the stage says when it is
        // (the door's Starved), and this run is handed over then.
        if (_count >= _head.RunLength.Preferred || _count == _items.Length || (_count == 1 && _head.IsHungry))
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
        _head.Count(_count);
        _head.Queue.Pending = 0;
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

    private (ISourceBlock<T> Source, DataflowMessageHeader Header)[] TakePostponedLocked()
    {
        var postponed = new (ISourceBlock<T> Source, DataflowMessageHeader Header)[_postponed.Count];
        for (var i = 0; i < postponed.Length; i++)
        {
            postponed[i] = DequeuePostponedLocked();
        }

        return postponed;
    }

    private (ISourceBlock<T> Source, DataflowMessageHeader Header) DequeuePostponedLocked()
    {
        var source = _postponed.Dequeue();
        _postponedHeader.Remove(source, out var header);
        return (source, header);
    }

    /// <summary>
    /// Tells the sources of offers postponed here that they will not be consumed, as Dataflow's own targets do once
    /// they decline for good: a <c>SendAsync</c> waiting on one of them then ends <see langword="false"/>. Called
    /// outside the lock (a source takes its own, and may offer again, which is declined).
    /// </summary>
    private void Release((ISourceBlock<T> Source, DataflowMessageHeader Header)[] postponed)
    {
        foreach (var (source, header) in postponed)
        {
            try
            {
                if (source.ReserveMessage(header, Owner))
                {
                    source.ReleaseReservation(header, Owner);
                }
            }
            catch (Exception exception)
            {
                // A source that throws here faults the block, as it would a built-in one.
                _head.First.Pipeline.Fail(exception);
            }
        }
    }

    /// <summary>Consumes postponed offers in order while there is room; consumed outside the lock (the source takes its own).</summary>
    private void TransferPostponed(bool room)
    {
        while (true)
        {
            (ISourceBlock<T> Source, DataflowMessageHeader Header) next;
            (ISourceBlock<T> Source, DataflowMessageHeader Header)[] declined;
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
                    declined = TakePostponedLocked();
                    next = default;
                }
                else if (!TryReserveLocked())
                {
                    WatchRoomLocked();
                    return;
                }
                else
                {
                    declined = [];
                    next = DequeuePostponedLocked();
                    _transferring = true;
                }
            }

            if (next.Source is null)
            {
                // Nothing left to consume, or nothing may be consumed any more (the block completes or stopped).
                Release(declined);
                return;
            }

            T? value;
            bool consumed;
            try
            {
                value = next.Source.ConsumeMessage(next.Header, Owner, out consumed);
            }
            catch (Exception exception)
            {
                // A source that throws here faults the block, as it faults Dataflow's own.
                lock (_lock)
                {
                    _transferring = false;
                }

                Fault(exception);
                _head.First.Pipeline.Fail(exception);
                return;
            }

            bool complete;
            lock (_lock)
            {
                _transferring = false;
                if (consumed)
                {
                    // Consumed before any Complete: accepted, so it goes through.
                    AddLocked(value!);
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
