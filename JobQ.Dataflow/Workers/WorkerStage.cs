using Microsoft.Extensions.Logging;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// A stage of <c>n</c> workers sharing one input queue (jobq's worker group). Sync workers get one dedicated
/// thread per lane, so blocking calls never wait for the thread pool to grow; async workers get one async
/// lane per allowed concurrent call. Under keepOrder a <see cref="Reorderer{T}"/> puts outputs back in order.
/// </summary>
/// <remarks>
/// <para>Resizing: <see cref="_target"/> is the wanted lane count, <see cref="_live"/> the lanes running. Growing
/// starts lanes before returning; shrinking lets surplus lanes retire at their next run boundary (after the
/// item they are on). Both fields and <see cref="_lanes"/> are guarded by <see cref="_lock"/>; lanes read
/// them without the lock as a hint and confirm under it.</para>
/// <para>Stall watch: a lane that took a run of cheap items and then blocks in a call (or waits for room) would keep
/// the rest of its run from idle siblings. While any lane holds items of a run that no call has started, a timer
/// looks every <see cref="StallCheckPeriod"/>; a lane that started no call since the previous look is stalled, and the
/// lanes waiting for input are woken to take over the second half of its untouched items (see
/// <c>WorkerLane.TrySteal</c>), again at each look while it stays stalled. Slow workers take single items, so their
/// runs never arm it.</para>
/// </remarks>
internal sealed class WorkerStage<TIn, TOut> : StageRuntime
{
    private readonly object _lock = new();
    private readonly StageWorker<TIn, TOut> _worker;
    private readonly ItemQueue<TOut>? _output;
    private readonly List<WorkerLane<TIn, TOut>> _lanes = [];
    private readonly bool _keepOrder;

    /// <summary>How often the stall watch looks while armed.</summary>
    private static readonly TimeSpan StallCheckPeriod = TimeSpan.FromMilliseconds(5);

    // Guarded by _lock (created on first use, disposed when the stage finishes). 1 in _stallWatch while armed.
    private ITimer? _stallTimer;
    private int _stallWatch;

    // Guarded by _lock.
    private int _target;
    private int _live;
    private int _laneNumber;
    private bool _started;
    private bool _finished;
    private LaneCounters _retired;

    public WorkerStage(StageContext context, StageWorker<TIn, TOut> worker, int threads, bool keepOrder, ItemQueue<TOut>? output)
        : base(context)
    {
        _worker = worker;
        _output = output;
        _target = threads;
        Input = new ItemQueue<TIn>(context.QueueSize);
        Reorderer = keepOrder && output is not null ? new Reorderer<TOut>(context.QueueSize) : null;
        _keepOrder = keepOrder;
    }

    public ItemQueue<TIn> Input { get; }

    public Reorderer<TOut>? Reorderer { get; }

    public override object InputQueue => Input;

    /// <summary>Gets the wanted number of lanes: the fair-share divisor for takes.</summary>
    public int TargetWorkers => Volatile.Read(ref _target);

    public override long Doing
    {
        get
        {
            lock (_lock)
            {
                long doing = 0;
                foreach (var lane in _lanes)
                {
                    doing += lane.Doing;
                }

                return doing;
            }
        }
    }

    public override void Start()
    {
        lock (_lock)
        {
            _started = true;
            while (_live < _target)
            {
                StartLane(stealOnStart: false);
            }
        }
    }

    public override void Abort()
    {
        Input.Abort();
        Reorderer?.Abort();
    }

    public override void SetWorkerCount(int count)
    {
        int from;
        lock (_lock)
        {
            if (_finished || Context.Token.IsCancellationRequested)
            {
                return;
            }

            from = _target;
            _target = count;
            if (_started)
            {
                while (_live < _target)
                {
                    StartLane(stealOnStart: true);
                }
            }
        }

        if (count < from)
        {
            // Idle lanes wait in Take; wake them so that surplus ones retire now rather than at the next item.
            Input.Kick();
        }

        if (count != from)
        {
            Context.SafeLog(logger =>
            {
                if (logger.IsEnabled(LogLevel.Information))
                {
                    Log.Resized(logger, Name, from, count);
                }
            });
        }
    }

    /// <summary>Gets whether more lanes run than wanted (a racy hint, confirmed by <see cref="TryRetire"/>).</summary>
    public bool IsSurplus => Volatile.Read(ref _live) > Volatile.Read(ref _target);

    /// <summary>Returns the lanes running now.</summary>
    public WorkerLane<TIn, TOut>[] LanesSnapshot()
    {
        lock (_lock)
        {
            return [.. _lanes];
        }
    }

    /// <summary>Called by a lane between runs: true if the lane is surplus and must exit now.</summary>
    public bool TryRetire(WorkerLane<TIn, TOut> lane)
    {
        if (Volatile.Read(ref _live) <= Volatile.Read(ref _target))
        {
            return false;
        }

        lock (_lock)
        {
            if (_live <= _target)
            {
                return false;
            }

            _live--;
            lane.Retired = true;
            return true;
        }
    }

    /// <summary>
    /// Called by a lane that began a run of several items: arms the stall watch unless it is armed already (then this
    /// costs two reads) or the stage has a single lane, with nobody to take over.
    /// </summary>
    public void WatchForStalls()
    {
        if (Volatile.Read(ref _stallWatch) != 0 || Volatile.Read(ref _target) < 2 || Interlocked.Exchange(ref _stallWatch, 1) != 0)
        {
            return;
        }

        lock (_lock)
        {
            if (_finished)
            {
                return;
            }

            // On real time, not the run's TimeProvider: a stall is a call really blocking, and a user's clock paces only
            // what users see (timeouts, progress, speed limits); tests that count the run's timers see no extra one.
            _stallTimer ??= TimeProvider.System.CreateTimer(
                static stage => ((WorkerStage<TIn, TOut>)stage!).CheckStalls(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _stallTimer.Change(StallCheckPeriod, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>One look of the stall watch (on a timer): wakes the waiting lanes if a lane is stalled; re-arms while any lane holds untouched items.</summary>
    /// <remarks>
    /// Disarming first, then reading each lane under its run lock, leaves no gap: a lane that begins a run after its
    /// lock was read here sees the watch disarmed and arms it again.
    /// </remarks>
    private void CheckStalls()
    {
        Interlocked.Exchange(ref _stallWatch, 0);
        bool holding = false, stalled = false;
        foreach (var lane in LanesSnapshot())
        {
            var check = lane.CheckStall();
            holding |= check.Holding;
            stalled |= check.Stalled;
        }

        if (stalled && Input.HasWaitingReaders)
        {
            Input.Kick();
        }

        if (holding)
        {
            WatchForStalls();
        }
    }

    /// <summary>Called by a lane as its last act.</summary>
    public void LaneExited(WorkerLane<TIn, TOut> lane)
    {
        bool last;
        lock (_lock)
        {
            _lanes.Remove(lane);
            _retired.Add(lane.Counters);
            if (!lane.Retired)
            {
                _live--;
            }

            last = _live == 0 && !_finished;
            if (last)
            {
                _finished = true;
                _stallTimer?.Dispose();
            }
        }

        if (last)
        {
            _output?.Complete();
            MarkCompleted();
        }

        Context.Pipeline.LoopExited();
    }

    public override StageStats Snapshot()
    {
        LaneCounters total;
        int workers;
        lock (_lock)
        {
            total = _retired;
            foreach (var lane in _lanes)
            {
                total.Add(lane.Counters);
            }

            workers = _target;
        }

        // The last stage of a run discards its outputs, so it needs no reorderer; under keepOrder it still shows an
        // (always empty) coordinator, as every stage does in jobq.
        QueueStats? coordinator = Reorderer is not null
            ? new QueueStats(Reorderer.ParkedItems, Reorderer.Capacity)
            : _keepOrder ? new QueueStats(0, Context.QueueSize) : null;
        return new StageStats(
            Name,
            new QueueStats(Input.Count, Input.Capacity),
            workers,
            coordinator,
            null,
            total.Started,
            total.Finished,
            total.Failed,
            total.Dropped);
    }

    /// <summary>Sums the counters of this stage's lanes (used by dispatcher stages for their partitions).</summary>
    public LaneCounters Totals()
    {
        lock (_lock)
        {
            var total = _retired;
            foreach (var lane in _lanes)
            {
                total.Add(lane.Counters);
            }

            return total;
        }
    }

    // Called under _lock.
    private void StartLane(bool stealOnStart)
    {
        var lane = new WorkerLane<TIn, TOut>(this, _worker, _output) { StealOnStart = stealOnStart };
        _lanes.Add(lane);
        _live++;
        var number = _laneNumber++;
        Context.Pipeline.LoopStarted();
        if (_worker.IsAsync)
        {
            _ = Task.Run(() => lane.RunAsync().AsTask());
        }
        else
        {
            DedicatedThreads.Shared.Start($"JobQ {Name} #{number}", static state => ((WorkerLane<TIn, TOut>)state!).RunOnThread(), lane);
        }
    }
}
