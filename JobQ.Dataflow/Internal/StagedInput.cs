using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// The first queue's door for items put one at a time by hand (<c>JobManager.Put</c>): items wait here, under a lock
/// of their own, and move into the queue a run at a time, as <see cref="Feeder{T}"/> batches a run's input. To the
/// user they are already in the queue: counted in its size and within its capacity.
/// </summary>
/// <remarks>
/// <para>When items move on: at once while a reader of the queue waits (a put into an idle pipeline is not held);
/// otherwise once as many are staged as the queue has room for, or a run whose length doubles while puts keep
/// coming faster than readers take them; and whenever a sync reader that ran dry, still spinning before it lists
/// itself as waiting, finds items staged and moves them itself (<see cref="PullWhileDry"/>).</para>
/// <para>No item waits for a next put: a reader that finds the queue empty lists itself as waiting, then takes this
/// lock and moves what is staged (<see cref="ItemQueue{T}.Take"/>); a put stages its item and checks for waiting
/// readers under the same lock. Whichever holds the lock second sees what the other wrote before taking it.</para>
/// <para>Invariant: staged items always fit in the queue's free room, so moving them never blocks and the lock is
/// never held while waiting; a put that finds the queue full waits for room with nothing staged. Every write into the
/// queue goes through here, so its free room only grows while the lock is held.</para>
/// </remarks>
internal sealed class StagedInput<T>
{
    // How long a dry reader watches for staged items before it lists itself as waiting (see PullWhileDry).
    private const int PullSpins = 20;

    [ThreadStatic]
    private static SyncWaiter? t_waiter;

    private readonly ItemQueue<T> _queue;
    private readonly object _lock = new();
    private readonly T[] _items;
    private int _count;
    private int _flushAt = 1;

    public StagedInput(ItemQueue<T> queue, int maxRun)
    {
        _queue = queue;
        _items = new T[Math.Min(maxRun, queue.Capacity)];
        queue.AttachStaging(this);
    }

    /// <summary>Gets the number of items staged (a racy snapshot).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Puts an item, blocking while the queue is full.</summary>
    /// <returns>False if the queue was aborted (the run stopped); the item was not put.</returns>
    /// <exception cref="InvalidOperationException">The queue was completed.</exception>
    public bool Put(T item)
    {
        SyncWaiter? waiter = null;
        while (true)
        {
            var result = TryPut(item, waiter);
            if (result != 0)
            {
                return result > 0;
            }

            if (waiter is null)
            {
                // Full: retry with this thread's waiter, which this time is listed if the queue is still full.
                waiter = t_waiter ??= new SyncWaiter();
                continue;
            }

            waiter.Wait();
        }
    }

    /// <summary>The async twin of <see cref="Put"/>. A cancelled wait puts nothing and throws <see cref="OperationCanceledException"/>.</summary>
    public async ValueTask<bool> PutAsync(T item, CancellationToken cancellationToken)
    {
        AsyncWaiter? waiter = null;
        while (true)
        {
            var result = TryPut(item, waiter);
            if (result != 0)
            {
                return result > 0;
            }

            if (waiter is null)
            {
                // Full: retry with a waiter, which this time is listed if the queue is still full.
                waiter = new AsyncWaiter();
                continue;
            }

            await _queue.WaitForRoomAsync(waiter, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Moves every staged item into the queue: a reader is about to wait, or the input ends.</summary>
    public void Flush()
    {
        // A reader is about to sleep with items staged: puts come slower than takes, so batch no more for now.
        MoveStaged(resetBatching: true);
    }

    /// <summary>
    /// Called by a sync reader that found the queue dry, before it lists itself as waiting: for a few
    /// spins it watches for staged items and moves them in itself. While readers do this, puts only stage (a waiting
    /// reader is not listed, so no put moves items for it), and each move carries what was staged meanwhile, instead
    /// of the put and the reader handing every item over one at a time.
    /// </summary>
    public void PullWhileDry()
    {
        var spinner = default(SpinWait);
        for (var i = 0; i < PullSpins && _queue.IsDry; i++)
        {
            if (Volatile.Read(ref _count) != 0)
            {
                MoveStaged(resetBatching: false);
                return;
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    private void MoveStaged(bool resetBatching)
    {
        Waiter? wake = null;
        lock (_lock)
        {
            if (_count != 0)
            {
                _flushAt = resetBatching ? 1 : _flushAt;
                MoveLocked(out wake);
            }
        }

        wake?.Signal();
    }

    /// <summary>Drops the staged items (the queue was aborted).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            ClearLocked();
        }
    }

    /// <summary>Stages the item: 1 when put, 0 when the queue is full (the waiter, if any, listed for room), −1 when aborted.</summary>
    private int TryPut(T item, Waiter? waiter)
    {
        Waiter? wake = null;
        int result;
        lock (_lock)
        {
            // Nothing is staged when the queue is full (the invariant), so the wait for room has nothing to hold back.
            // Room only grows while this lock is held (every write goes through here), so a racy look that finds room
            // is enough; only a full or aborted queue needs the queue's lock.
            result = _count != 0 || (_queue.FreeSpace > 0 && !_queue.IsAborted) ? 1 : _queue.ListenForRoom(waiter);
            if (result > 0)
            {
                _items[_count] = item;
                Volatile.Write(ref _count, _count + 1);
                if (_count >= _flushAt || _count >= _queue.FreeSpace || _queue.HasWaitingReaders)
                {
                    _flushAt = _count == _flushAt ? Math.Min(_flushAt * 2, _items.Length) : _flushAt;
                    result = MoveLocked(out wake) ? 1 : -1;
                }
            }
        }

        wake?.Signal();
        return result;
    }

    // Called under _lock. Staged items fit in the queue's room, so this writes all of them or finds the queue aborted.
    private bool MoveLocked(out Waiter? wake)
    {
        var written = _queue.TryWrite(_items.AsSpan(0, _count), null, out wake);
        Debug.Assert(written < 0 || written == _count, "Staged items always fit in the queue's room (every write goes through here).");
        ClearLocked();
        return written >= 0;
    }

    private void ClearLocked()
    {
        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            Array.Clear(_items, 0, _count);
        }

        Volatile.Write(ref _count, 0);
    }
}
