using System.Buffers;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// Puts the outputs of a keepOrder stage back in input order (jobq's coordinator). Lanes take numbered runs of
/// items from the stage's input; the lane whose run is next (the head) writes its outputs downstream directly,
/// others park theirs here until their turn.
/// </summary>
/// <remarks>
/// <para>Runs are keyed by the offset of their first item (see <c>ItemQueue.Take</c>); a run with key <c>k</c> that
/// ends up covering <c>e</c> items (its extent, smaller than taken when a part was split off) is followed by the run
/// with key <c>k + e</c>. Invariant: outputs of run <c>k</c> reach the output queue only while <see cref="_next"/>
/// equals <c>k</c>, and <see cref="_next"/> moves past <c>k</c> only after all of run <c>k</c>'s outputs were
/// written. Only the head lane changes <see cref="_next"/>, so the head may read it without the lock.</para>
/// <para>Parked outputs are bounded by the capacity, counted in items: a lane that would exceed it waits to become
/// the head instead of parking.</para>
/// </remarks>
internal sealed class Reorderer<T>(int capacity)
{
    private readonly object _lock = new();

    // Guarded by _lock.
    private readonly Dictionary<long, Parked> _parked = [];
    private readonly Dictionary<long, Waiter> _headWaiters = [];
    private int _parkedItems;
    private bool _aborted;

    // Written under _lock by the head lane only; read without the lock by the lane that may be the head.
    private long _next;

    public int Capacity => capacity;

    public int ParkedItems => Volatile.Read(ref _parkedItems);

    /// <summary>Gets whether run <paramref name="sequence"/> may write its outputs now.</summary>
    public bool IsHead(long sequence) => Volatile.Read(ref _next) == sequence;

    /// <summary>
    /// Offers a finished run's outputs. Returns <see cref="FinishResult.Head"/> when the caller must write them
    /// now and then call <see cref="Advance"/>; <see cref="FinishResult.Parked"/> when they were taken over
    /// (ownership of <paramref name="buffer"/> passes here); <see cref="FinishResult.MustWait"/> when the caller
    /// must wait on <paramref name="waiter"/> and offer again.
    /// </summary>
    public FinishResult Finish(long sequence, int extent, T[] buffer, int count, Waiter waiter)
    {
        lock (_lock)
        {
            if (_aborted)
            {
                return FinishResult.Discard;
            }

            if (_next == sequence)
            {
                return FinishResult.Head;
            }

            if (count > 0 && _parkedItems + count > capacity)
            {
                waiter.Prepare();
                _headWaiters[sequence] = waiter;
                return FinishResult.MustWait;
            }

            _parked[sequence] = new Parked(buffer, count, extent);
            Volatile.Write(ref _parkedItems, _parkedItems + count);
            return FinishResult.Parked;
        }
    }

    /// <summary>Arms <paramref name="waiter"/> to be woken when run <paramref name="sequence"/> becomes the head; false if it already is (or the reorderer was aborted).</summary>
    public bool WaitForHead(long sequence, Waiter waiter)
    {
        lock (_lock)
        {
            if (_aborted || _next == sequence)
            {
                return false;
            }

            waiter.Prepare();
            _headWaiters[sequence] = waiter;
            return true;
        }
    }

    /// <summary>
    /// Called by the head after writing the outputs of run <paramref name="sequence"/> (covering
    /// <paramref name="extent"/> items). Returns the next run's parked outputs if that run already finished (the
    /// caller writes them and advances again with the returned key and extent, returning the buffer to the pool);
    /// otherwise hands the head to the next run, waking its lane if it waits.
    /// </summary>
    public bool Advance(ref long sequence, ref int extent, out T[] buffer, out int count)
    {
        Waiter? wake = null;
        try
        {
            lock (_lock)
            {
                var next = sequence + extent;
                if (!_aborted && _parked.Remove(next, out var parked))
                {
                    Volatile.Write(ref _parkedItems, _parkedItems - parked.Count);
                    buffer = parked.Buffer;
                    count = parked.Count;
                    sequence = next;
                    extent = parked.Extent;
                    return true;
                }

                Volatile.Write(ref _next, next);
                if (_headWaiters.Remove(next, out var waiter))
                {
                    wake = waiter;
                }

                buffer = [];
                count = 0;
                return false;
            }
        }
        finally
        {
            wake?.Signal();
        }
    }

    /// <summary>Stops the reorderer: parked outputs are discarded and every waiting lane is woken.</summary>
    public void Abort()
    {
        List<Waiter> waiters;
        lock (_lock)
        {
            _aborted = true;
            foreach (var parked in _parked.Values)
            {
                ArrayPool<T>.Shared.Return(parked.Buffer, clearArray: true);
            }

            _parked.Clear();
            Volatile.Write(ref _parkedItems, 0);
            waiters = [.. _headWaiters.Values];
            _headWaiters.Clear();
        }

        foreach (var waiter in waiters)
        {
            waiter.Signal();
        }
    }

    private readonly record struct Parked(T[] Buffer, int Count, int Extent);
}

/// <summary>What a lane does with a finished run's outputs; see <see cref="Reorderer{T}.Finish"/>.</summary>
internal enum FinishResult
{
    /// <summary>The run is the head: write now, then advance.</summary>
    Head,

    /// <summary>The outputs were parked; the reorderer owns the buffer now.</summary>
    Parked,

    /// <summary>No room to park: wait to become the head, then offer again.</summary>
    MustWait,

    /// <summary>The stage was stopped: drop the outputs.</summary>
    Discard,
}
