using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// One worker of a stage: a loop that takes a run of items, calls the worker on each, and passes the outputs
/// on. Sync and async lanes share this one loop: a sync lane blocks inside the queue calls, so every
/// <see cref="ValueTask"/> it awaits is already complete and the loop never leaves its dedicated thread.
/// </summary>
/// <remarks>
/// <para>Batching is invisible to users: the run length adapts to the measured cost per item (about
/// <see cref="TargetRunTicks"/> of work per run, single items for slow workers), a lane takes at most its fair
/// share of what is queued, and outputs are flushed as soon as the next stage waits for work, so a single item
/// never waits for a batch to fill.</para>
/// <para>Counters are written by the lane's own thread only (plain volatile writes, no interlocked operations on
/// the per-item path) and read by stats from any thread.</para>
/// </remarks>
internal sealed class WorkerLane<TIn, TOut> : IOutput<TOut>
{
    private static readonly long TargetRunTicks = Math.Max(1, Stopwatch.Frequency / 10_000);

    // A lane takes greedily once its runs are at their longest and this many items cost no more than TargetRunTicks.
    private const int GreedyRunLength = 256;

    private readonly WorkerStage<TIn, TOut> _stage;
    private readonly StageWorker<TIn, TOut> _worker;
    private readonly ItemQueue<TOut>? _output;
    private readonly Reorderer<TOut>? _reorderer;
    private readonly bool _async;
    private readonly SyncWaiter? _syncWaiter;
    private readonly AsyncWaiter? _asyncWaiter;
    private readonly Waiter _waiter;
    private readonly CancellationToken _token;
    private readonly int _maxRun;

    // Run splitting. The owner claims item i of its run by writing _hot.Claimed = i + 1 (a plain volatile store) and
    // then checks i < _hot.Limit; a thief lowers _hot.Limit, issues a process-wide barrier, and then reads _hot.Claimed
    // to learn how far the owner got (see TrySteal). _runEnd is the authoritative end of the owner's run. The fields
    // from _runActive to _startedAtLastCheck (the calls started when the stall watch last looked, see CheckStall) are
    // guarded by _runLock, which the owner takes once per run, and again only on the slow path.
    private readonly object _runLock = new();
    private bool _runActive;
    private long _runKey;
    private int _runEnd;
    private long _startedAtLastCheck = -1;

    // Written per item by the owner (and its tripwire by thieves), on a cache line of their own.
    private LaneHotFields _hot;

    private TIn[] _inputs = new TIn[1];
    private TOut[] _outputs;
    private int _outCount;
    private long _sequence;
    private int _take = 1;
    private bool _greedy;

    public WorkerLane(WorkerStage<TIn, TOut> stage, StageWorker<TIn, TOut> worker, ItemQueue<TOut>? output)
    {
        _stage = stage;
        _worker = worker;
        _output = output;
        _reorderer = stage.Reorderer;
        _async = worker.IsAsync;
        _token = stage.Context.Token;
        _maxRun = stage.Context.MaxRun;
        if (_async)
        {
            _waiter = _asyncWaiter = new AsyncWaiter();
        }
        else
        {
            _waiter = _syncWaiter = new SyncWaiter();
        }

        _outputs = output is null ? [] : ArrayPool<TOut>.Shared.Rent(_maxRun);
    }

    /// <summary>Gets or sets whether the lane left because the stage shrank; set under the stage's lock.</summary>
    public bool Retired { get; set; }

    /// <summary>
    /// Gets or sets whether the lane's next take first tries to take over part of a busy sibling's run: lanes added by
    /// growth, and lanes woken without items (a kick from a resize or from the stall watch).
    /// </summary>
    public bool StealOnStart { get; set; }

    /// <summary>Gets a snapshot of the lane's counters, safe from any thread.</summary>
    public LaneCounters Counters
    {
        get
        {
            // Finished before Started, so that a racing snapshot never shows a negative Doing.
            var finished = Volatile.Read(ref _hot.Counters.Finished);
            return new LaneCounters
            {
                Finished = finished,
                Started = Volatile.Read(ref _hot.Counters.Started),
                Failed = Volatile.Read(ref _hot.Counters.Failed),
                Dropped = Volatile.Read(ref _hot.Counters.Dropped),
            };
        }
    }

    public long Doing => Volatile.Read(ref _hot.Counters.Started) - Volatile.Read(ref _hot.Counters.Finished);

    public void RunOnThread()
    {
        Complete(RunAsync());
    }

    public async ValueTask RunAsync()
    {
        try
        {
            while (true)
            {
                // Read before the retire check: a kick after it (the stage shrank, say) then wakes the take below.
                var kickEpoch = _stage.Input.KickEpoch;
                if (_stage.TryRetire(this))
                {
                    break;
                }

                var n = StealOnStart ? TrySteal() : 0;
                StealOnStart = false;
                if (n == 0)
                {
                    n = await TakeAsync(kickEpoch).ConfigureAwait(false);
                }

                if (n < 0)
                {
                    // Woken without items: the stage was resized, or a sibling is stalled on a run others could share.
                    StealOnStart = true;
                    continue;
                }

                if (n == 0)
                {
                    // The input has ended. Before leaving, take over the untouched part of a sibling's run, which a
                    // sibling blocked in a call would otherwise keep until that call returns.
                    n = _stage.IsSurplus || _token.IsCancellationRequested ? 0 : TrySteal();
                    if (n == 0)
                    {
                        break;
                    }
                }

                if (_async)
                {
                    await ProcessAsyncRunAsync(n).ConfigureAwait(false);
                }
                else
                {
                    ProcessSyncRun(n);
                }
            }
        }
        catch (Exception exception)
        {
            _stage.Context.Pipeline.Fail(exception, _stage.Context);
        }
        finally
        {
            if (_outputs.Length != 0)
            {
                ArrayPool<TOut>.Shared.Return(_outputs, RuntimeHelpers.IsReferenceOrContainsReferences<TOut>());
                _outputs = [];
            }

            _stage.LaneExited(this);
        }
    }

    /// <summary>Runs one run on a sync lane: calls the worker on each item, passes the outputs on, sizes the next run.</summary>
    /// <remarks>The same steps as <see cref="ProcessAsyncRunAsync"/>, without awaits, so the per-item loop stays in registers.</remarks>
    private void ProcessSyncRun(int n)
    {
        if (!BeginRunUnlessGivenBack(n))
        {
            return;
        }

        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < n && MayStart(i); i++)
        {
            var item = _inputs[i];
            var callStart = OnCallStarting();
            try
            {
                _worker.Invoke(item, this);
            }
            catch (Exception exception) when (!IsStopCancellation(exception))
            {
                Complete(OnCallFailedAsync(exception, item));
            }
            catch (OperationCanceledException)
            {
                // The run was stopped while this call was in progress.
            }

            OnCallFinished(callStart);
            if (ShouldFlush())
            {
                Complete(FlushAsync(force: false));
            }
        }

        Complete(FinishRun(EndRunAndClear(n)));
        Adapt(n, Stopwatch.GetTimestamp() - start);
    }

    /// <summary>Runs one run on an async lane; see <see cref="ProcessSyncRun"/>.</summary>
    private async ValueTask ProcessAsyncRunAsync(int n)
    {
        if (!BeginRunUnlessGivenBack(n))
        {
            return;
        }

        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < n && MayStart(i); i++)
        {
            var item = _inputs[i];
            var callStart = OnCallStarting();
            try
            {
                await _worker.InvokeAsync(item, this, _token).ConfigureAwait(false);
            }
            catch (Exception exception) when (!IsStopCancellation(exception))
            {
                await OnCallFailedAsync(exception, item).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The run was stopped while this call was in progress.
            }

            OnCallFinished(callStart);
            if (ShouldFlush())
            {
                await FlushAsync(force: false).ConfigureAwait(false);
            }
        }

        await FinishRun(EndRunAndClear(n)).ConfigureAwait(false);
        Adapt(n, Stopwatch.GetTimestamp() - start);
    }

    /// <summary>Begins a run; a lane that became surplus while it waited gives the whole run back instead (false).</summary>
    private bool BeginRunUnlessGivenBack(int n)
    {
        BeginRun(n);
        if (_stage.IsSurplus && TryGiveBack(0))
        {
            EndRun();
            return false;
        }

        return true;
    }

    /// <summary>Whether item <paramref name="index"/> of the run may start: the run is not stopped, and the item was neither given back nor taken over.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool MayStart(int index)
    {
        if (_token.IsCancellationRequested)
        {
            return false;
        }

        // A surplus lane stops after the item it is on: the rest of its run goes back to the queue.
        if (index > 0 && _stage.IsSurplus && TryGiveBack(index))
        {
            return false;
        }

        // Claim the item; past the tripwire, another lane may have taken the rest of the run over (see TrySteal).
        Volatile.Write(ref _hot.Claimed, index + 1);
        return index < Volatile.Read(ref _hot.Limit) || MayContinue(index);
    }

    /// <summary>Counts a call as started; returns its start time when call durations are recorded, else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long OnCallStarting()
    {
        Volatile.Write(ref _hot.Counters.Started, _hot.Counters.Started + 1);
        return JobMetrics.CallDuration is { Enabled: true } ? Stopwatch.GetTimestamp() : 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void OnCallFinished(long callStart)
    {
        Volatile.Write(ref _hot.Counters.Finished, _hot.Counters.Finished + 1);
        if (callStart != 0)
        {
            JobMetrics.CallDuration!.Record(Stopwatch.GetElapsedTime(callStart).TotalSeconds, _stage.Context.MetricTags);
        }
    }

    // A call ended by the run's own stop is not the item's failure.
    private bool IsStopCancellation(Exception exception) => exception is OperationCanceledException && _token.IsCancellationRequested;

    private ValueTask OnCallFailedAsync(Exception exception, TIn item)
    {
        Volatile.Write(ref _hot.Counters.Failed, _hot.Counters.Failed + 1);
        return _stage.Context.HandleFailureAsync(exception, item, dispatcher: false);
    }

    /// <summary>Whether the outputs so far should be passed on before the run ends: the buffer is full, or a reader waits for them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool ShouldFlush() => _outCount != 0 && (_outCount >= _maxRun || _output!.HasWaitingReaders);

    /// <summary>Ends the run and clears its references; returns how many items stayed this lane's.</summary>
    private int EndRunAndClear(int n)
    {
        var extent = EndRun();
        if (RuntimeHelpers.IsReferenceOrContainsReferences<TIn>())
        {
            Array.Clear(_inputs, 0, n);
        }

        return extent;
    }

    /// <summary>Waits for a value task on a sync lane, where it has always completed already.</summary>
    private static void Complete(ValueTask task)
    {
        if (task.IsCompleted)
        {
            task.GetAwaiter().GetResult();
        }
        else
        {
            // Cannot happen on a sync lane; kept so that a mistake would block rather than lose work.
            task.AsTask().GetAwaiter().GetResult();
        }
    }

    public void Add(TOut item)
    {
        if (_output is null)
        {
            return;
        }

        if (_outCount == _outputs.Length)
        {
            if (_async)
            {
                // An async lane cannot block here; it flushes between calls, so this only grows within one call.
                Grow();
            }
            else
            {
                Complete(FlushAsync(force: true));
            }
        }

        _outputs[_outCount++] = item;
    }

    public async ValueTask AddAsync(TOut item)
    {
        if (_output is null)
        {
            return;
        }

        if (_outCount == _outputs.Length)
        {
            await FlushAsync(force: true).ConfigureAwait(false);
        }

        _outputs[_outCount++] = item;
    }

    public void Drop() => Volatile.Write(ref _hot.Counters.Dropped, _hot.Counters.Dropped + 1);

    private void BeginRun(int length)
    {
        lock (_runLock)
        {
            _runKey = _sequence;
            _runEnd = length;
            Volatile.Write(ref _hot.Limit, length);
            Volatile.Write(ref _hot.Claimed, 0);
            _runActive = true;
        }

        if (length > 1)
        {
            _stage.WatchForStalls();
        }
    }

    /// <summary>
    /// For the stage's stall watch: whether the lane holds items of its run that no call has started yet, and whether
    /// it also started no call since the previous check (it is blocked in a call, or waiting for room).
    /// </summary>
    public (bool Holding, bool Stalled) CheckStall()
    {
        var started = Volatile.Read(ref _hot.Counters.Started);
        lock (_runLock)
        {
            var holding = _runActive && Volatile.Read(ref _hot.Claimed) < _runEnd;
            var stalled = holding && started == _startedAtLastCheck;
            _startedAtLastCheck = started;
            return (holding, stalled);
        }
    }

    /// <summary>Ends the run; returns how many of its items stayed this lane's (the rest went to other lanes).</summary>
    private int EndRun()
    {
        lock (_runLock)
        {
            _runActive = false;
            return _runEnd;
        }
    }

    // Slow path of the per-item check: a thief lowered the tripwire; the authoritative end decides.
    private bool MayContinue(int index)
    {
        lock (_runLock)
        {
            return index < _runEnd;
        }
    }

    /// <summary>Gives the untouched items from <paramref name="index"/> on back to the queue, keeping their keys.</summary>
    /// <remarks>
    /// Only without keepOrder. Under keepOrder a returned run may be the head: if every other lane then waited to
    /// become the head (a lane whose outputs fill its buffer must), nobody would take it. So an ordered surplus lane
    /// finishes the run it holds, which is a single item for slow workers.
    /// </remarks>
    private bool TryGiveBack(int index)
    {
        if (_reorderer is not null)
        {
            return false;
        }

        lock (_runLock)
        {
            var end = _runEnd;
            if (index >= end || !_stage.Input.ReturnRun(_runKey + index, _inputs.AsSpan(index, end - index)))
            {
                return false;
            }

            _runEnd = index;
            Volatile.Write(ref _hot.Limit, index);
            return true;
        }
    }

    /// <summary>
    /// Takes over the unclaimed second half of the busiest sibling's run, so that a lane added while the others sit
    /// on taken items (say, blocked in a call) gets work at once. Returns the number of items taken: 0 only once no
    /// sibling has untouched items of a run left to give (a sibling keeps at least the first item of its run).
    /// </summary>
    /// <remarks>
    /// Protocol (an asymmetric Dekker handshake): the thief, holding the victim's run lock, lowers the victim's
    /// <see cref="LaneHotFields.Limit"/> to <c>k</c>, runs a process-wide memory barrier, and reads <see cref="LaneHotFields.Claimed"/>. Any claim
    /// the victim made before the barrier is visible now, and any claim after it sees the new limit. So the victim
    /// processes exactly the items below <c>max(k, claimed)</c>, which becomes its run's end; the thief takes the rest,
    /// keyed by their offset, so keepOrder holds. The victim's per-item cost stays one store and one load.
    /// </remarks>
    private int TrySteal()
    {
        var lanes = _stage.LanesSnapshot();

        // The counts read here may be stale by the time the chosen lane's lock is held (another thief, or the lane's
        // own progress, may have left it nothing), so a miss moves on to the next lane instead of giving up: at the
        // input's end a lane that gives up exits, and items another lane could have taken would wait for a blocked call.
        Span<bool> tried = lanes.Length <= 64 ? stackalloc bool[lanes.Length] : new bool[lanes.Length];
        while (true)
        {
            var victim = -1;
            var most = 0;
            for (var i = 0; i < lanes.Length; i++)
            {
                var lane = lanes[i];
                var unclaimed = Volatile.Read(ref lane._hot.Limit) - Volatile.Read(ref lane._hot.Claimed);
                if (!tried[i] && !ReferenceEquals(lane, this) && unclaimed > most)
                {
                    most = unclaimed;
                    victim = i;
                }
            }

            if (victim < 0)
            {
                return 0;
            }

            tried[victim] = true;
            var n = StealFrom(lanes[victim]);
            if (n > 0)
            {
                return n;
            }
        }
    }

    private int StealFrom(WorkerLane<TIn, TOut> victim)
    {
        lock (victim._runLock)
        {
            var end = victim._runEnd;
            var claimed = Volatile.Read(ref victim._hot.Claimed);
            var split = Math.Max(1, claimed + ((end - claimed) / 2));
            if (!victim._runActive || split >= end)
            {
                return 0;
            }

            Volatile.Write(ref victim._hot.Limit, split);
            Interlocked.MemoryBarrierProcessWide();
            var from = Math.Max(split, Volatile.Read(ref victim._hot.Claimed));
            if (from >= end)
            {
                Volatile.Write(ref victim._hot.Limit, end);
                return 0;
            }

            victim._runEnd = from;
            Volatile.Write(ref victim._hot.Limit, from);
            var n = end - from;
            if (_inputs.Length < n)
            {
                _inputs = new TIn[n];
            }

            victim._inputs.AsSpan(from, n).CopyTo(_inputs);
            _sequence = victim._runKey + from;
            return n;
        }
    }

    /// <summary>
    /// Takes the next run: at most its fair share of what is queued, so that every lane of a stage gets work, except
    /// when the worker has proved so cheap that a whole run costs about as much as handing items between threads
    /// (runs at their longest, and about 0.4 µs per item or less): then the lane takes what it can, and its siblings stay
    /// asleep instead of splitting the work into smaller runs. If such a lane then blocks in a call, the stall watch
    /// hands the rest of its run to them.
    /// </summary>
    private ValueTask<int> TakeAsync(int kickEpoch)
    {
        if (_inputs.Length < _take)
        {
            _inputs = new TIn[_take];
        }

        var divisor = _greedy ? 1 : _stage.TargetWorkers;
        if (!_async)
        {
            return new ValueTask<int>(_stage.Input.Take(_inputs.AsSpan(0, _take), divisor, _syncWaiter!, kickEpoch, out _sequence));
        }

        return TakeSlowAsync(divisor, kickEpoch);

        async ValueTask<int> TakeSlowAsync(int divisor, int kickEpoch)
        {
            var (count, sequence) = await _stage.Input.TakeAsync(_inputs.AsMemory(0, _take), divisor, _asyncWaiter!, kickEpoch).ConfigureAwait(false);
            _sequence = sequence;
            return count;
        }
    }

    private ValueTask WriteAsync(TOut[] buffer, int count)
    {
        if (!_async)
        {
            _output!.Write(buffer.AsSpan(0, count), _syncWaiter!);
            return default;
        }

        return WriteSlowAsync(buffer, count);

        async ValueTask WriteSlowAsync(TOut[] buffer, int count)
            => await _output!.WriteAsync(buffer.AsMemory(0, count), _asyncWaiter!).ConfigureAwait(false);
    }

    private ValueTask WaitAsync()
    {
        if (!_async)
        {
            _syncWaiter!.Wait();
            return default;
        }

        return _asyncWaiter!.WaitAsync();
    }

    /// <summary>
    /// Passes the buffered outputs on if this lane may: always without keepOrder, only as the head with it.
    /// With <paramref name="force"/> (the buffer is full) a non-head lane waits to become the head.
    /// </summary>
    private async ValueTask FlushAsync(bool force)
    {
        if (_outCount == 0)
        {
            return;
        }

        if (_token.IsCancellationRequested)
        {
            ClearOutputs();
            return;
        }

        if (_reorderer is not null && !_reorderer.IsHead(_sequence))
        {
            if (!force)
            {
                return;
            }

            while (_reorderer.WaitForHead(_sequence, _waiter))
            {
                await WaitAsync().ConfigureAwait(false);
            }
        }

        await WriteAsync(_outputs, _outCount).ConfigureAwait(false);
        ClearOutputs();
    }

    /// <summary>
    /// Passes the run's outputs on at its end: directly without keepOrder (nothing at all when there are none, as in a
    /// last stage), through the reorderer with it. No async state machine unless there is something to pass on.
    /// </summary>
    private ValueTask FinishRun(int extent)
        => _reorderer is { } reorderer ? FinishOrderedRunAsync(reorderer, extent)
            : _outCount != 0 ? FlushAsync(force: true)
            : default;

    private async ValueTask FinishOrderedRunAsync(Reorderer<TOut> reorderer, int extent)
    {
        if (_token.IsCancellationRequested)
        {
            ClearOutputs();
            return;
        }

        while (true)
        {
            var buffer = _outCount == 0 ? [] : _outputs;
            switch (reorderer.Finish(_sequence, extent, buffer, _outCount, _waiter))
            {
                case FinishResult.Head:
                    if (_outCount != 0)
                    {
                        await WriteAsync(_outputs, _outCount).ConfigureAwait(false);
                        ClearOutputs();
                    }

                    var sequence = _sequence;
                    while (reorderer.Advance(ref sequence, ref extent, out var parked, out var count))
                    {
                        if (count != 0 && !_token.IsCancellationRequested)
                        {
                            await WriteAsync(parked, count).ConfigureAwait(false);
                        }

                        if (parked.Length != 0)
                        {
                            ArrayPool<TOut>.Shared.Return(parked, RuntimeHelpers.IsReferenceOrContainsReferences<TOut>());
                        }
                    }

                    return;

                case FinishResult.Parked:
                    if (_outCount != 0)
                    {
                        // The reorderer owns the buffer now; the lane needs a fresh one.
                        _outputs = ArrayPool<TOut>.Shared.Rent(_maxRun);
                        _outCount = 0;
                    }

                    return;

                case FinishResult.MustWait:
                    await WaitAsync().ConfigureAwait(false);
                    continue;

                default:
                    ClearOutputs();
                    return;
            }
        }
    }

    private void ClearOutputs()
    {
        if (RuntimeHelpers.IsReferenceOrContainsReferences<TOut>())
        {
            Array.Clear(_outputs, 0, _outCount);
        }

        _outCount = 0;
    }

    private void Grow()
    {
        var grown = ArrayPool<TOut>.Shared.Rent(_outputs.Length * 2);
        Array.Copy(_outputs, grown, _outCount);
        ArrayPool<TOut>.Shared.Return(_outputs, RuntimeHelpers.IsReferenceOrContainsReferences<TOut>());
        _outputs = grown;
    }

    /// <summary>Sizes the next run from the cost per item measured on this one, and decides whether it may be greedy (see <see cref="TakeAsync"/>).</summary>
    private void Adapt(int taken, long elapsed)
    {
        var ideal = elapsed <= 0 ? _maxRun : (int)Math.Min(_maxRun, TargetRunTicks * taken / elapsed);
        var grown = taken == _take ? _take * 2 : _take;
        _take = Math.Clamp(Math.Min(ideal, grown), 1, _maxRun);
        _greedy = _take == _maxRun && elapsed * GreedyRunLength <= TargetRunTicks * taken;
    }
}
