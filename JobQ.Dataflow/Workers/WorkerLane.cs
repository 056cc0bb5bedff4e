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

    private LaneCounters _counters;
    private TIn[] _inputs = new TIn[1];
    private TOut[] _outputs;
    private int _outCount;
    private long _sequence;
    private int _take = 1;

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

    /// <summary>Gets a snapshot of the lane's counters, safe from any thread.</summary>
    public LaneCounters Counters
    {
        get
        {
            // Finished before Started, so that a racing snapshot never shows a negative Doing.
            var finished = Volatile.Read(ref _counters.Finished);
            return new LaneCounters
            {
                Finished = finished,
                Started = Volatile.Read(ref _counters.Started),
                Failed = Volatile.Read(ref _counters.Failed),
                Dropped = Volatile.Read(ref _counters.Dropped),
            };
        }
    }

    public long Doing => Volatile.Read(ref _counters.Started) - Volatile.Read(ref _counters.Finished);

    public void RunOnThread()
    {
        var loop = RunAsync();
        if (!loop.IsCompleted)
        {
            // Cannot happen for a sync lane; kept so that a mistake would block this thread rather than lose work.
            loop.AsTask().GetAwaiter().GetResult();
        }
    }

    public async ValueTask RunAsync()
    {
        try
        {
            while (!_stage.TryRetire(this))
            {
                var n = await TakeAsync().ConfigureAwait(false);
                if (n < 0)
                {
                    continue;
                }

                if (n == 0)
                {
                    break;
                }

                var start = Stopwatch.GetTimestamp();
                for (var i = 0; i < n; i++)
                {
                    if (_token.IsCancellationRequested)
                    {
                        break;
                    }

                    var item = _inputs[i];
                    var timed = JobMetrics.CallDuration.Enabled;
                    var callStart = timed ? Stopwatch.GetTimestamp() : 0;
                    Volatile.Write(ref _counters.Started, _counters.Started + 1);
                    try
                    {
                        if (_async)
                        {
                            await _worker.InvokeAsync(item, this, _token).ConfigureAwait(false);
                        }
                        else
                        {
                            _worker.Invoke(item, this);
                        }
                    }
                    catch (Exception exception) when (!(exception is OperationCanceledException && _token.IsCancellationRequested))
                    {
                        // (A call ended by the run's own stop is not the item's failure.)
                        Volatile.Write(ref _counters.Failed, _counters.Failed + 1);
                        var handled = _stage.Context.HandleFailureAsync(exception, item, dispatcher: false);
                        if (_async)
                        {
                            await handled.ConfigureAwait(false);
                        }
                        else if (!handled.IsCompleted)
                        {
                            handled.AsTask().GetAwaiter().GetResult();
                        }
                    }
                    catch (OperationCanceledException)
                    {
                        // The run was stopped while this call was in progress.
                    }

                    Volatile.Write(ref _counters.Finished, _counters.Finished + 1);
                    if (timed)
                    {
                        JobMetrics.CallDuration.Record(Stopwatch.GetElapsedTime(callStart).TotalSeconds, _stage.Context.MetricTags);
                    }

                    if (_outCount != 0 && (_outCount >= _maxRun || _output!.HasWaitingReaders))
                    {
                        await FlushAsync(force: false).ConfigureAwait(false);
                    }
                }

                if (RuntimeHelpers.IsReferenceOrContainsReferences<TIn>())
                {
                    Array.Clear(_inputs, 0, n);
                }

                await FinishRunAsync().ConfigureAwait(false);
                Adapt(n, Stopwatch.GetTimestamp() - start);
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
                FlushAsync(force: true).GetAwaiter().GetResult();
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

    public void Drop() => Volatile.Write(ref _counters.Dropped, _counters.Dropped + 1);

    private ValueTask<int> TakeAsync()
    {
        if (_inputs.Length < _take)
        {
            _inputs = new TIn[_take];
        }

        if (!_async)
        {
            return new ValueTask<int>(_stage.Input.Take(_inputs.AsSpan(0, _take), _stage.TargetWorkers, _syncWaiter!, out _sequence));
        }

        return TakeSlowAsync();

        async ValueTask<int> TakeSlowAsync()
        {
            var (count, sequence) = await _stage.Input.TakeAsync(_inputs.AsMemory(0, _take), _stage.TargetWorkers, _asyncWaiter!).ConfigureAwait(false);
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

    private async ValueTask FinishRunAsync()
    {
        if (_reorderer is null)
        {
            await FlushAsync(force: true).ConfigureAwait(false);
            return;
        }

        if (_token.IsCancellationRequested)
        {
            ClearOutputs();
            return;
        }

        while (true)
        {
            var buffer = _outCount == 0 ? [] : _outputs;
            switch (_reorderer.Finish(_sequence, buffer, _outCount, _waiter))
            {
                case FinishResult.Head:
                    if (_outCount != 0)
                    {
                        await WriteAsync(_outputs, _outCount).ConfigureAwait(false);
                        ClearOutputs();
                    }

                    var sequence = _sequence;
                    while (_reorderer.Advance(sequence, out var parked, out var count))
                    {
                        sequence++;
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

    /// <summary>Sizes the next run from the cost per item measured on this one.</summary>
    private void Adapt(int taken, long elapsed)
    {
        var ideal = elapsed <= 0 ? _maxRun : (int)Math.Min(_maxRun, TargetRunTicks * taken / elapsed);
        var grown = taken == _take ? _take * 2 : _take;
        _take = Math.Clamp(Math.Min(ideal, grown), 1, _maxRun);
    }
}
