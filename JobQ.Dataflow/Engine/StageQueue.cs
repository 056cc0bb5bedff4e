namespace JobQ.Dataflow.Internal;

/// <summary>
/// A stage's input queue as jobq counts it, in items: how many wait to be processed (<see cref="Waiting"/>, at most
/// <see cref="Capacity"/>), and how many the stage has finished that the next stage has not taken yet
/// (<see cref="Backlog"/>). The door in front of the stage (<see cref="StageDoor{T}"/>) admits a run only while both
/// leave room, so a stage holds its queue, its calls in progress and a bounded backlog, whatever the run lengths.
/// </summary>
/// <remarks>
/// <para>Dataflow's <c>BoundedCapacity</c> counts messages; messages here carry runs of up to
/// <see cref="RunLength.Limit"/> items, so the bound in items is kept by this queue instead, through Dataflow's own
/// postponement protocol: a door that has no room postpones the offer, and the message waits in the block before, whose
/// backlog then stops that block's own door in turn.</para>
/// <para><c>Lock</c> guards every field but <see cref="_backlog"/>, which the stage raises with an interlocked add
/// (raising it never frees room) and the next door lowers under this lock.</para>
/// </remarks>
internal abstract class StageQueue
{
    private readonly List<TaskCompletionSource<bool>> _roomWaiters = [];
    private long _backlog;
    private int _waiting;
    private int _queuedRuns;
    private int _running;

    protected StageQueue(int capacity, int backlogLimit, CancellationToken stop)
    {
        Capacity = capacity;
        BacklogLimit = backlogLimit;
        Stop = stop;
    }

    /// <summary>Gets the most items that wait in the queue (jobq's queue size); a run larger than that is admitted into an empty queue.</summary>
    public int Capacity { get; }

    /// <summary>Gets the most finished items the stage may hold back before the door stops admitting more input.</summary>
    public int BacklogLimit { get; }

    /// <summary>Gets whether the door still takes runs (not completed, faulted or stopped); read without the lock.</summary>
    public bool IsOpen => !Declining && !Stop.IsCancellationRequested;

    /// <summary>Gets the items admitted (or reserved by a producer) that no call has started yet.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Gets the items the stage has finished that the next stage has not taken yet.</summary>
    public long Backlog => Interlocked.Read(ref _backlog);

    /// <summary>
    /// Gets whether the stage could start a run now and has none queued: a producer holding items should hand them
    /// over at once instead of filling a longer run.
    /// </summary>
    public bool IsHungry => Volatile.Read(ref _queuedRuns) == 0 && Volatile.Read(ref _running) < Concurrency;

    /// <summary>Gets or sets how many runs the stage processes at once (its worker count).</summary>
    public int Concurrency { get; set; } = 1;

    /// <summary>Gets or sets what to call when a run ends and none is queued: a producer holding items hands them over.</summary>
    public Action? Starved { get; set; }

    /// <summary>Gets or sets the queue of the stage before this one, whose backlog shrinks as this door admits its runs.</summary>
    public StageQueue? Upstream { get; set; }

    protected Lock Lock { get; } = new();

    protected CancellationToken Stop { get; }

    /// <summary>Gets or sets whether the door takes no more runs (completed, faulted or stopped). Guarded by <see cref="Lock"/>.</summary>
    protected bool Declining { get; set; }

    /// <summary>The stage starts processing <paramref name="count"/> items: they leave the queue.</summary>
    public void Started(int count)
    {
        lock (Lock)
        {
            _waiting -= count;
        }

        OnRoomFreed();
    }

    /// <summary>The stage takes an admitted run (a dispatcher's router takes it to route it).</summary>
    public void RunStarted()
    {
        Interlocked.Decrement(ref _queuedRuns);
        Interlocked.Increment(ref _running);
    }

    /// <summary>The stage is done with a run it took with <see cref="RunStarted"/>.</summary>
    public void RunEnded()
    {
        Interlocked.Decrement(ref _running);
        if (Volatile.Read(ref _queuedRuns) == 0)
        {
            Starved?.Invoke();
        }
    }

    /// <summary>The stage passes on <paramref name="count"/> finished items; they count against its backlog until taken.</summary>
    public void AddBacklog(int count) => Interlocked.Add(ref _backlog, count);

    /// <summary>The next stage took <paramref name="count"/> of this stage's finished items.</summary>
    public void ReleaseBacklog(int count)
    {
        Interlocked.Add(ref _backlog, -count);
        OnRoomFreed();
    }

    /// <summary>Reserves room for <paramref name="count"/> items a producer is about to hand over; false if there is none or the door declines.</summary>
    public bool TryReserve(int count)
    {
        lock (Lock)
        {
            if (Declining || Stop.IsCancellationRequested || !HasRoomLocked(count))
            {
                return false;
            }

            _waiting += count;
            return true;
        }
    }

    /// <summary>Completes when there may be room (true) or when the door declines for good (false).</summary>
    public Task<bool> WaitForRoomAsync(int count)
    {
        lock (Lock)
        {
            if (Declining || Stop.IsCancellationRequested)
            {
                return Task.FromResult(false);
            }

            if (HasRoomLocked(count))
            {
                return Task.FromResult(true);
            }

            var waiter = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            _roomWaiters.Add(waiter);
            return waiter.Task;
        }
    }

    /// <summary>Declines every later run and releases every producer waiting for room (the pipeline stopped or failed).</summary>
    public void Cancel()
    {
        lock (Lock)
        {
            Declining = true;
            ForgetPostponedLocked();
        }

        ReleaseWaiters(false);
    }

    /// <summary>Whether <paramref name="count"/> more items fit; an empty queue takes any run, so an oversized one never waits forever.</summary>
    protected bool HasRoomLocked(int count)
        => (_waiting == 0 || _waiting + count <= Capacity) && Interlocked.Read(ref _backlog) <= BacklogLimit;

    /// <summary>Counts an admitted run; the caller holds <see cref="Lock"/>.</summary>
    protected void AdmittedLocked(int count, bool reserved)
    {
        if (!reserved)
        {
            _waiting += count;
        }

        Interlocked.Increment(ref _queuedRuns);
    }

    /// <summary>Room may have been freed: admit postponed offers, wake waiting producers.</summary>
    protected void OnRoomFreed()
    {
        bool wake;
        lock (Lock)
        {
            wake = _roomWaiters.Count > 0 && (Declining || HasRoomLocked(1));
        }

        if (wake)
        {
            ReleaseWaiters(true);
        }

        TransferPostponed();
    }

    /// <summary>Admits postponed offers while there is room; called with no lock held.</summary>
    protected abstract void TransferPostponed();

    /// <summary>Forgets the postponed offers (their sources keep the messages); the caller holds <see cref="Lock"/>.</summary>
    protected abstract void ForgetPostponedLocked();

    private void ReleaseWaiters(bool result)
    {
        TaskCompletionSource<bool>[] waiters;
        lock (Lock)
        {
            if (_roomWaiters.Count == 0)
            {
                return;
            }

            waiters = [.. _roomWaiters];
            _roomWaiters.Clear();
        }

        foreach (var waiter in waiters)
        {
            waiter.TrySetResult(result && !Declining);
        }
    }
}
