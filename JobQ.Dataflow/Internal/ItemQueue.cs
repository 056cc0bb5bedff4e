using System.Runtime.CompilerServices;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// A bounded multi-producer, multi-consumer FIFO whose capacity is counted in items (jobq's bounded queue
/// between stages). Producers write runs of items and consumers take runs under one lock acquisition each:
/// batching lives here, while sizes, capacities and backpressure stay those of single items.
/// </summary>
/// <remarks>
/// <para>Both blocking (dedicated threads) and awaiting (async lanes) callers are served, each with a reusable
/// waiter. A write wakes one reader, a take wakes one writer; a woken party that leaves work behind wakes the
/// next one, so a burst does not wake every waiter at once.</para>
/// <para>Lock order: the queue's lock is a leaf; no other lock is taken while holding it and waiters are
/// signalled after releasing it.</para>
/// </remarks>
internal sealed class ItemQueue<T>
{
    private const int InitialBufferSize = 16;

    private readonly object _lock = new();
    private readonly int _capacity;
    private readonly WaiterList _readers = new();
    private readonly WaiterList _writers = new();

    // Guarded by _lock: the ring buffer. It grows on demand up to _capacity, so a short run allocates little.
    private T[] _buffer;
    private int _head;
    private int _count;

    // Guarded by _lock.
    private bool _completed;
    private bool _aborted;
    private long _takenItems;
    private int _kickEpoch;

    // Guarded by _lock: runs a lane gave back (a shrinking stage's surplus lane), served before the ring, oldest key
    // first, each with the sequence key it had, so that keepOrder still holds. Counted in Count.
    private readonly List<ReturnedRun> _returned = [];
    private int _returnedCount;

    // Items put one at a time that have not moved in yet (JobManager's first queue only); counted as queued.
    private StagedInput<T>? _staging;

    public ItemQueue(int capacity)
    {
        _capacity = capacity;
        _buffer = new T[Math.Min(capacity, InitialBufferSize)];
    }

    /// <summary>Gets the most items the queue holds.</summary>
    public int Capacity => _capacity;

    /// <summary>Gets the number of items in the queue (a racy snapshot).</summary>
    public int Count => Volatile.Read(ref _count) + Volatile.Read(ref _returnedCount) + (_staging?.Count ?? 0);

    /// <summary>Gets whether the queue holds nothing a reader could take now (a racy snapshot; staged items not counted).</summary>
    public bool IsDry => Volatile.Read(ref _count) == 0 && Volatile.Read(ref _returnedCount) == 0;

    /// <summary>
    /// Gets the count of kicks so far. A reader reads it before it decides it still has work to do (a lane: before its
    /// retire check) and passes it to its take, which returns −1 instead of waiting once a later kick came.
    /// </summary>
    public int KickEpoch => Volatile.Read(ref _kickEpoch);

    /// <summary>Gets whether the queue was aborted (a racy snapshot).</summary>
    public bool IsAborted => Volatile.Read(ref _aborted);

    /// <summary>Gets the room left (a racy snapshot).</summary>
    public int FreeSpace => _capacity - Volatile.Read(ref _count);

    /// <summary>Gets whether some reader is waiting for items: a hint that an output worth flushing now.</summary>
    public bool HasWaitingReaders => _readers.Count > 0;

    /// <summary>
    /// Takes up to <paramref name="destination"/>.Length items, and no more than a <paramref name="divisor"/>-th
    /// of what is queued (rounded up), blocking while the queue is empty.
    /// </summary>
    /// <param name="destination">Where the run goes.</param>
    /// <param name="divisor">The number of lanes sharing the queue: each takes at most its fair share.</param>
    /// <param name="waiter">The caller's waiter.</param>
    /// <param name="kickEpoch">The <see cref="KickEpoch"/> the caller read before it decided to take: a kick since then returns −1.</param>
    /// <param name="sequence">The run's key: the offset of its first item in the order items left the queue. A run of
    /// <c>n</c> items covers keys <c>[sequence, sequence + n)</c>, so a run split in two keeps its place in the order.</param>
    /// <returns>The count taken; 0 when the queue is completed and empty or aborted; −1 after a <see cref="Kick"/> since <paramref name="kickEpoch"/>.</returns>
    public int Take(Span<T> destination, int divisor, SyncWaiter waiter, int kickEpoch, out long sequence)
    {
        while (true)
        {
            _staging?.PullWhileDry();
            var result = TryTake(destination, divisor, waiter, kickEpoch, out sequence, out var wake);
            wake?.Signal();
            if (result != Waiting)
            {
                return result;
            }

            FlushStaged();
            waiter.Wait();
        }
    }

    /// <summary>The async twin of <see cref="Take"/>.</summary>
    public async ValueTask<(int Count, long Sequence)> TakeAsync(Memory<T> destination, int divisor, AsyncWaiter waiter, int kickEpoch)
    {
        while (true)
        {
            var result = TryTake(destination.Span, divisor, waiter, kickEpoch, out var sequence, out var wake);
            wake?.Signal();
            if (result != Waiting)
            {
                return (result, sequence);
            }

            FlushStaged();
            await waiter.WaitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Reads every item until the queue is completed and empty (or aborted), in runs of at most <paramref name="maxRun"/>.</summary>
    public async IAsyncEnumerable<T> ReadAllAsync(int maxRun)
    {
        var buffer = new T[maxRun];
        var waiter = new AsyncWaiter();
        while (true)
        {
            var (count, _) = await TakeAsync(buffer, 1, waiter, KickEpoch).ConfigureAwait(false);
            if (count <= 0)
            {
                yield break;
            }

            for (var i = 0; i < count; i++)
            {
                var item = buffer[i];
                buffer[i] = default!;
                yield return item;
            }
        }
    }

    /// <summary>Writes every item, blocking while the queue is full.</summary>
    /// <returns>How many were written: all of them, unless the queue was aborted.</returns>
    public int Write(ReadOnlySpan<T> items, SyncWaiter waiter)
    {
        var written = 0;
        while (written < items.Length)
        {
            var result = TryWrite(items[written..], waiter, out var wake);
            wake?.Signal();
            if (result < 0)
            {
                return written;
            }

            written += result;
            if (result == 0)
            {
                waiter.Wait();
            }
        }

        return written;
    }

    /// <summary>The async twin of <see cref="Write"/>.</summary>
    public async ValueTask<int> WriteAsync(ReadOnlyMemory<T> items, AsyncWaiter waiter)
    {
        var written = 0;
        while (written < items.Length)
        {
            var result = TryWrite(items.Span[written..], waiter, out var wake);
            wake?.Signal();
            if (result < 0)
            {
                return written;
            }

            written += result;
            if (result == 0)
            {
                await waiter.WaitAsync().ConfigureAwait(false);
            }
        }

        return written;
    }

    /// <summary>Routes single-item puts through <paramref name="staging"/>, which from now on makes every write.</summary>
    public void AttachStaging(StagedInput<T> staging) => _staging = staging;

    /// <summary>
    /// 1 if the queue has room; else 0, with <paramref name="waiter"/> (if any) listed to be woken when room is freed;
    /// −1 if the queue was aborted.
    /// </summary>
    /// <exception cref="InvalidOperationException">The queue was completed.</exception>
    public int ListenForRoom(Waiter? waiter)
    {
        lock (_lock)
        {
            return Math.Sign(RoomLocked(waiter));
        }
    }

    /// <summary>
    /// Awaits the room <paramref name="waiter"/> was listed for. A cancelled wait throws
    /// <see cref="OperationCanceledException"/>, passing on any room it had been given to the next writer.
    /// </summary>
    public async ValueTask WaitForRoomAsync(AsyncWaiter waiter, CancellationToken cancellationToken)
    {
        using (cancellationToken.UnsafeRegister(static state => CancelWrite(((ItemQueue<T>, Waiter))state!), (this, (Waiter)waiter)))
        {
            await waiter.WaitAsync().ConfigureAwait(false);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            Waiter? wake;
            lock (_lock)
            {
                // If a take already chose this waiter to fill freed room, pass that room to the next writer.
                wake = _count < _capacity ? _writers.Dequeue() : null;
            }

            wake?.Signal();
            throw new OperationCanceledException(cancellationToken);
        }
    }

    /// <summary>
    /// Gives back the untouched rest of a taken run, keeping its key, to be taken again before anything else.
    /// Refused (false) once the queue is completed, since the lanes that would take it may already have left.
    /// </summary>
    public bool ReturnRun(long key, ReadOnlySpan<T> items)
    {
        Waiter? wake;
        lock (_lock)
        {
            if (_aborted || _completed)
            {
                return false;
            }

            var run = new ReturnedRun(key, items.ToArray());
            var at = _returned.FindIndex(r => r.Key > key);
            _returned.Insert(at < 0 ? _returned.Count : at, run);
            Volatile.Write(ref _returnedCount, _returnedCount + items.Length);
            wake = _readers.Dequeue();
        }

        wake?.Signal();
        return true;
    }

    /// <summary>No more writes: readers drain what is queued, then see the end.</summary>
    public void Complete()
    {
        // Staged items fit in the room left, so this never blocks.
        _staging?.Flush();
        Waiter? chain;
        lock (_lock)
        {
            _completed = true;
            chain = _readers.DequeueAll();
        }

        WaiterList.SignalChain(chain);
    }

    /// <summary>Stops the queue: queued items are discarded, every waiter returns, later calls return at once.</summary>
    /// <returns>The number of items discarded.</returns>
    public int Abort()
    {
        Waiter? readers, writers;
        int discarded;
        lock (_lock)
        {
            if (_aborted)
            {
                return 0;
            }

            _aborted = true;
            discarded = _count + _returnedCount;
            _returned.Clear();
            Volatile.Write(ref _returnedCount, 0);
            _count = 0;
            _buffer = [];
            _head = 0;
            readers = _readers.DequeueAll();
            writers = _writers.DequeueAll();
        }

        WaiterList.SignalChain(readers);
        WaiterList.SignalChain(writers);
        if (_staging is { } staging)
        {
            discarded += staging.Count;
            staging.Clear();
        }

        return discarded;
    }

    /// <summary>Wakes every waiting reader with −1, so that it re-checks its own state (used when a stage shrinks).</summary>
    public void Kick()
    {
        Waiter? chain;
        lock (_lock)
        {
            _kickEpoch++;
            chain = _readers.DequeueAll();
        }

        WaiterList.SignalChain(chain);
    }

    private const int Waiting = -2;

    /// <summary>
    /// Called by a reader already listed as waiting: moves in what single-item puts left staged, so that none of it
    /// waits for a next put (see <see cref="StagedInput{T}"/> for why listing first makes this race-free).
    /// </summary>
    private void FlushStaged()
    {
        _staging?.Flush();
    }

    private static void CancelWrite((ItemQueue<T> Queue, Waiter Waiter) state)
    {
        var (queue, waiter) = state;
        bool removed;
        lock (queue._lock)
        {
            removed = queue._writers.Remove(waiter);
        }

        if (removed)
        {
            waiter.Signal();
        }
    }

    private int TryTake(Span<T> destination, int divisor, Waiter waiter, int kickEpoch, out long sequence, out Waiter? wake)
    {
        wake = null;
        sequence = 0;
        lock (_lock)
        {
            if (_aborted)
            {
                return 0;
            }

            if (_returnedCount > 0)
            {
                var run = _returned[0];
                var taken = run.TakeInto(destination, out sequence);
                if (run.IsEmpty)
                {
                    _returned.RemoveAt(0);
                }

                Volatile.Write(ref _returnedCount, _returnedCount - taken);
                if (_count + _returnedCount > 0 && _readers.Count > 0)
                {
                    wake = _readers.Dequeue();
                }

                return taken;
            }

            if (_count > 0)
            {
                var share = divisor <= 1 ? _count : (_count + divisor - 1) / divisor;
                var n = Math.Min(destination.Length, share);
                CopyOut(destination[..n]);
                sequence = _takenItems;
                _takenItems += n;

                // Chain wakes: room freed wakes one writer; items left wake one more reader.
                wake = _writers.Dequeue();
                if (_count > 0 && _readers.Count > 0)
                {
                    var reader = _readers.Dequeue()!;
                    if (wake is null)
                    {
                        wake = reader;
                    }
                    else
                    {
                        reader.Signal();
                    }
                }

                return n;
            }

            if (_completed)
            {
                return 0;
            }

            if (kickEpoch != _kickEpoch)
            {
                return -1;
            }

            waiter.Prepare();
            _readers.Enqueue(waiter);
            return Waiting;
        }
    }

    /// <summary>
    /// Writes what fits without waiting: the count written (0 when full, with <paramref name="waiter"/> listed), −1 if
    /// aborted. <paramref name="wake"/> is a waiter to signal once the caller holds no lock.
    /// </summary>
    public int TryWrite(ReadOnlySpan<T> items, Waiter? waiter, out Waiter? wake)
    {
        wake = null;
        lock (_lock)
        {
            var free = RoomLocked(waiter);
            if (free <= 0)
            {
                return free;
            }

            var n = Math.Min(free, items.Length);
            CopyIn(items[..n]);
            wake = _readers.Dequeue();
            if (_count < _capacity && _writers.Count > 0)
            {
                var writer = _writers.Dequeue()!;
                if (wake is null)
                {
                    wake = writer;
                }
                else
                {
                    writer.Signal();
                }
            }

            return n;
        }
    }

    private void CopyOut(Span<T> destination)
    {
        var n = destination.Length;
        var first = Math.Min(n, _buffer.Length - _head);
        var span = _buffer.AsSpan();
        span.Slice(_head, first).CopyTo(destination);
        span[..(n - first)].CopyTo(destination[first..]);
        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            span.Slice(_head, first).Clear();
            span[..(n - first)].Clear();
        }

        _head = (_head + n) % _buffer.Length;
        Volatile.Write(ref _count, _count - n);
    }

    // Called under _lock: the room left; 0 when full, with the waiter (if any) listed for room; -1 when aborted.
    private int RoomLocked(Waiter? waiter)
    {
        if (_aborted)
        {
            return -1;
        }

        if (_completed)
        {
            throw new InvalidOperationException("Write after the queue was completed.");
        }

        var free = _capacity - _count;
        if (free == 0 && waiter is not null)
        {
            waiter.Prepare();
            _writers.Enqueue(waiter);
        }

        return free;
    }

    private void CopyIn(ReadOnlySpan<T> items)
    {
        var needed = _count + items.Length;
        if (needed > _buffer.Length)
        {
            Grow(needed);
        }

        var tail = (_head + _count) % _buffer.Length;
        var first = Math.Min(items.Length, _buffer.Length - tail);
        items[..first].CopyTo(_buffer.AsSpan(tail));
        items[first..].CopyTo(_buffer);
        Volatile.Write(ref _count, _count + items.Length);
    }

    private void Grow(int needed)
    {
        var size = Math.Max(_buffer.Length, InitialBufferSize);
        while (size < needed)
        {
            size *= 2;
        }

        var grown = new T[Math.Min(size, _capacity)];
        var first = Math.Min(_count, _buffer.Length - _head);
        _buffer.AsSpan(_head, first).CopyTo(grown);
        _buffer.AsSpan(0, _count - first).CopyTo(grown.AsSpan(first));
        _buffer = grown;
        _head = 0;
    }

    /// <summary>The rest of a run a lane gave back, with the key of its first remaining item.</summary>
    private sealed class ReturnedRun(long key, T[] items)
    {
        private int _start;

        public long Key { get; private set; } = key;

        public bool IsEmpty => _start == items.Length;

        public int TakeInto(Span<T> destination, out long key)
        {
            var n = Math.Min(destination.Length, items.Length - _start);
            items.AsSpan(_start, n).CopyTo(destination);
            items.AsSpan(_start, n).Clear();
            key = Key;
            Key += n;
            _start += n;
            return n;
        }
    }
}
