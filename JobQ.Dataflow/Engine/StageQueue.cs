namespace JobQ.Dataflow.Internal;

/// <summary>
/// jobq's input queue of a stage, counted in items: what the producer before the stage (the stage before it, or the
/// input) has passed on that the stage has not taken yet. The items themselves wait in the producer's Dataflow output
/// buffer (or, for the first stage, in a <see cref="BufferBlock{T}"/>); this only counts them, so that every bound and
/// size is in items whatever the run lengths.
/// </summary>
/// <remarks>
/// <para>A producer passes items on only while the queue has room (<see cref="HasRoom"/>): a stage checks its output
/// queue before it takes a run (see <see cref="StageDoor{T}"/>), the input reader and the puts before they add. So,
/// as in jobq, a full queue holds the stage before it back, and memory depends on queue sizes, not input length.</para>
/// <para>A run that started while the queue had room may overfill it by its outputs, as jobq's workers hold their
/// result while the next queue is full; <see cref="Count"/> can then exceed <see cref="Capacity"/>.</para>
/// </remarks>
internal sealed class StageQueue
{
    // A monitor rather than a Lock: blocked producers wait on it (WaitForRoom).
    private readonly object _lock = new();

    // The one signal every async waiter awaits until room frees (then a new one is made): a waiter that gives up (a
    // cancelled PutAsync) leaves nothing here. Guarded by _lock.
    private TaskCompletionSource<bool>? _room;
    private readonly CancellationToken _stop;
    private long _count;

    // 1 while producers wait for room: a take then checks for room itself, rather than guessing from the count it saw
    // (producers gathering items and holding back outputs move the count too, so a crossing seen by one take can be
    // missed).
    private int _waiting;

    // How often a producer on a thread of its own looks for room before it blocks: ManualResetEventSlim's default on
    // a machine with several cores; on one core a spin only delays the stage that would free the room.
    private static readonly int SpinsBeforeBlocking = Environment.ProcessorCount > 1 ? 35 : 1;

    // Threads blocked in WaitForRoom; guarded by _lock.
    private int _blocked;

    /// <param name="capacity">The queue size.</param>
    /// <param name="stop">The pipeline's stop signal: once it is set, producers waiting for room are let go (false),
    /// whoever owns the queue, so that none waits for room a stopped pipeline never frees.</param>
    public StageQueue(int capacity, CancellationToken stop)
    {
        Capacity = capacity;
        _stop = stop;
        stop.UnsafeRegister(static state => ((StageQueue)state!).Cancel(), this);
    }

    /// <summary>Gets the queue size (jobq's <c>queue_size</c>).</summary>
    public int Capacity { get; }

    /// <summary>Gets the items passed on to the stage that it has not taken yet.</summary>
    public long Count => Interlocked.Read(ref _count) + Pending;

    /// <summary>
    /// Gets or sets the items a producer has gathered but not handed over yet (puts gathering into a run); they count
    /// as in the queue. Written by that producer alone, under its own lock, so that a put costs no interlocked add.
    /// </summary>
    public int Pending
    {
        get => Volatile.Read(ref field);
        set => Volatile.Write(ref field, value);
    }

    /// <summary>
    /// Gets or sets the order tracker of the producing stage: outputs it holds back (reordering) are counted here but
    /// are not in the queue yet, so they do not take its room; jobq's coordinator holds them, bounded on its own.
    /// </summary>
    public OrderTracker? HeldBy { get; set; }

    /// <summary>Gets the items in the queue: passed on and released in order, not yet taken.</summary>
    public long Waiting => Count - (HeldBy?.Parked ?? 0);

    /// <summary>Gets whether a producer may pass more on: the queue is below its capacity (an empty one takes any run).</summary>
    public bool HasRoom => Waiting < Capacity;

    /// <summary>Gets the number of threads blocked in <see cref="WaitForRoom"/>.</summary>
    public int Blocked
    {
        get
        {
            lock (_lock)
            {
                return _blocked;
            }
        }
    }

    /// <summary>Gets or sets what to call when items are taken: the door of the producing stage may admit the run it postponed.</summary>
    public Action? RoomFreed { get; set; }

    /// <summary>The producer passes <paramref name="count"/> items on.</summary>
    public void Add(int count) => Interlocked.Add(ref _count, count);

    /// <summary>The stage takes <paramref name="count"/> items: they leave the queue, and a producer waiting for room goes on.</summary>
    public void Take(int count)
    {
        Interlocked.Add(ref _count, -count);
        if (Volatile.Read(ref _waiting) != 0 && HasRoom)
        {
            Release(true);
        }

        // The producing stage's door weighs its own items against the queue, so any take may let it admit a run.
        RoomFreed?.Invoke();
    }

    /// <summary>Completes when the queue has room (true), or when the pipeline stopped (false).</summary>
    public Task<bool> WaitForRoomAsync()
    {
        lock (_lock)
        {
            if (_stop.IsCancellationRequested)
            {
                return Task.FromResult(false);
            }

            if (HasRoom)
            {
                return Task.FromResult(true);
            }

            var room = (_room ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

            // A full fence between announcing the waiter and looking again: a take either sees the announcement or
            // freed the room before this second look.
            Interlocked.Exchange(ref _waiting, 1);
            if (HasRoom)
            {
                ReleaseLocked(true);
            }

            return room;
        }
    }

    /// <summary>
    /// Blocks the calling thread until the queue has room (true), or the pipeline stopped (false): the wait of a producer
    /// on a thread of its own (the input reader, a streaming generator), which allocates nothing.
    /// </summary>
    public bool WaitForRoom()
    {
        // The stage usually takes a run within microseconds of being offered it: a short spin first, as
        // ManualResetEventSlim and SemaphoreSlim do, saves a sleep and a wake-up per run on a cheap chain.
        var spinner = default(SpinWait);
        for (var i = 0; i < SpinsBeforeBlocking && !HasRoom && !_stop.IsCancellationRequested; i++)
        {
            spinner.SpinOnce(sleep1Threshold: -1);
        }

        lock (_lock)
        {
            while (true)
            {
                if (_stop.IsCancellationRequested)
                {
                    return false;
                }

                if (HasRoom)
                {
                    return true;
                }

                // Announced, then looked at again, as in WaitForRoomAsync; a release pulses every blocked thread, and
                // each announces itself again if it still finds no room.
                Interlocked.Exchange(ref _waiting, 1);
                if (!HasRoom && !_stop.IsCancellationRequested)
                {
                    _blocked++;
                    Monitor.Wait(_lock);
                    _blocked--;
                }
            }
        }
    }

    /// <summary>Releases every producer waiting for room (the pipeline stopped).</summary>
    public void Cancel() => Release(false);

    private void Release(bool result)
    {
        lock (_lock)
        {
            ReleaseLocked(result);
        }
    }

    private void ReleaseLocked(bool result)
    {
        // Completed under the lock: the waiters' continuations run asynchronously.
        _room?.TrySetResult(result && !_stop.IsCancellationRequested);
        _room = null;
        _waiting = 0;
        if (_blocked != 0)
        {
            Monitor.PulseAll(_lock);
        }
    }
}
