using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// A worker stage: a <see cref="TransformManyBlock{TInput, TOutput}"/> of runs behind a <see cref="StageDoor{T}"/>,
/// with <c>MaxDegreeOfParallelism</c> = threads, <c>EnsureOrdered</c> = keepOrder, and for blocking (sync) workers a
/// <see cref="DedicatedThreadScheduler"/>. Each message is a run; the block's delegate calls the worker once per item.
/// </summary>
/// <remarks>
/// <para>Four delegate forms, one per worker kind: sync one-to-one (returns the output runs), sync generator (an
/// iterator that hands each output run over as it fills), async one-to-one (a task of the output runs), async
/// generator (an async iterator). A resizable stage (<c>JobManager</c>) uses the async forms with
/// <c>MaxDegreeOfParallelism</c> as a cap and a <see cref="ConcurrencyGate"/> holding the real concurrency.</para>
/// <para>No call starts once the pipeline stopped, and the outputs of calls in progress then are discarded.</para>
/// </remarks>
internal sealed class WorkerStage<TIn, TOut> : Stage<TIn, TOut>
{
    private static readonly ItemRun<TOut>[] None = [];

    private readonly StageWorker<TIn, TOut> _worker;
    private readonly StageDoor<TIn> _door;
    private readonly TransformManyBlock<ItemRun<TIn>, ItemRun<TOut>> _block;
    private readonly ConcurrencyGate? _gate;
    private readonly DedicatedThreadScheduler? _scheduler;
    private readonly CancellationToken _stop;
    private readonly int _threads;

    public WorkerStage(Pipeline pipeline, int index, string name, Delegate? userDelegate, StageWorker<TIn, TOut> worker, int threads, bool resizable)
        : base(pipeline, index, name, userDelegate)
    {
        _worker = worker;
        _threads = threads;
        _stop = pipeline.Token;
        RunLength = new RunLength(pipeline.QueueSize, threads);
        if (!worker.IsAsync)
        {
            _scheduler = new DedicatedThreadScheduler($"JobQ {name}", threads + 1, RunLength);
        }

        if (resizable)
        {
            _gate = new ConcurrencyGate(threads);
        }

        var options = new ExecutionDataflowBlockOptions
        {
            MaxDegreeOfParallelism = resizable ? JobOptions.MaxThreads : threads,
            EnsureOrdered = pipeline.KeepOrder,
            TaskScheduler = _scheduler ?? TaskScheduler.Default,
            CancellationToken = _stop,
        };
        _block = (worker.Streams, worker.IsAsync || resizable) switch
        {
            (false, false) => new TransformManyBlock<ItemRun<TIn>, ItemRun<TOut>>(ProcessSync, options),
            (false, true) => new TransformManyBlock<ItemRun<TIn>, ItemRun<TOut>>(ProcessAsync, options),
            (true, false) => new TransformManyBlock<ItemRun<TIn>, ItemRun<TOut>>(StreamSync, options),
            (true, true) => new TransformManyBlock<ItemRun<TIn>, ItemRun<TOut>>(StreamAsync, options),
        };

        var backlogLimit = Math.Max(1, pipeline.QueueSize - (threads * RunLength.Max));
        _door = new StageDoor<TIn>(_block, pipeline.QueueSize, backlogLimit, _stop) { Concurrency = threads };
    }

    public override StageDoor<TIn> Door => _door;

    public override RunLength RunLength { get; }

    public override ISourceBlock<ItemRun<TOut>> Output => _block;

    public override IEnumerable<IDataflowBlock> Blocks => [_block];

    public override Task Completion => _block.Completion;

    public override int WorkerCount => _gate?.Limit ?? _threads;

    protected override int MaxRun => RunLength.Max;

    public override void SetWorkerCount(int count)
    {
        if (_gate is null)
        {
            base.SetWorkerCount(count);
            return;
        }

        var from = _gate.Limit;
        if (_scheduler is not null)
        {
            // Raised before the gate lets more calls in, so that each of them finds a dedicated thread.
            _scheduler.Limit = count + 1;
        }

        _door.Concurrency = count;
        _gate.SetLimit(count);
        Pipeline.SafeLog(logger => Log.Resized(logger, Name, from, count));
    }

    public override void Cancel()
    {
        base.Cancel();
        _gate?.Cancel();
    }

    /// <summary>The sync one-to-one form: runs every call on the calling (dedicated or pool) thread.</summary>
    private ItemRun<TOut>[] ProcessSync(ItemRun<TIn> input)
    {
        StartRun(input.Count);
        var progress = Counters.Begin();
        var writer = new RunWriter<TOut>(Next?.RunLength, progress);
        var items = input.Items;
        var count = input.Count;
        var start = Stopwatch.GetTimestamp();
        var i = 0;
        while (i < count)
        {
            try
            {
                for (; i < count; i++)
                {
                    if (_stop.IsCancellationRequested)
                    {
                        goto Done;
                    }

                    progress.Start();
                    _worker.Invoke(items[i], writer);
                    progress.Finish();
                }
            }
            catch (Exception exception)
            {
                Failed(progress, exception, items[i]);
                i++;
            }
        }

    Done:
        RunLength.Record(i, Stopwatch.GetTimestamp() - start);
        return Finish(input, progress, writer);
    }

    /// <summary>The async one-to-one form, also used by resizable stages of either kind: no thread is held while a call or the gate is awaited.</summary>
    private async Task<IEnumerable<ItemRun<TOut>>> ProcessAsync(ItemRun<TIn> input)
    {
        if (_gate is not null && !_gate.TryEnter())
        {
            // Resumed on this block's scheduler (no ConfigureAwait(false)): a sync worker stays on a dedicated thread.
            if (!await _gate.EnterAsync())
            {
                Abandon(input);
                return None;
            }
        }

        try
        {
            if (!_worker.IsAsync)
            {
                return ProcessSync(input);
            }

            StartRun(input.Count);
            var progress = Counters.Begin();
            var writer = new RunWriter<TOut>(Next?.RunLength, progress);
            var start = Stopwatch.GetTimestamp();
            var i = 0;
            for (; i < input.Count && !_stop.IsCancellationRequested; i++)
            {
                var item = input.Items[i];
                progress.Start();
                try
                {
                    await _worker.InvokeAsync(item, writer, _stop).ConfigureAwait(false);
                    progress.Finish();
                }
                catch (Exception exception)
                {
                    await FailedAsync(progress, exception, item).ConfigureAwait(false);
                }
            }

            RunLength.Record(i, Stopwatch.GetTimestamp() - start);
            return Finish(input, progress, writer);
        }
        finally
        {
            _gate?.Exit();
        }
    }

    /// <summary>The sync generator form: each output run is handed over as it fills, so a long sequence streams.</summary>
    private IEnumerable<ItemRun<TOut>> StreamSync(ItemRun<TIn> input)
    {
        StartRun(input.Count);
        var progress = Counters.Begin();
        var writer = new RunWriter<TOut>(Next?.RunLength, progress);
        var completed = false;
        try
        {
            for (var i = 0; i < input.Count && !_stop.IsCancellationRequested; i++)
            {
                var item = input.Items[i];
                progress.Start();
                IEnumerator<TOut>? values = null;
                var produced = false;
                while (true)
                {
                    bool more;
                    try
                    {
                        values ??= _worker.Expand(item).GetEnumerator();
                        more = values.MoveNext();
                        if (more)
                        {
                            produced = true;
                            writer.Add(values.Current);
                        }
                    }
                    catch (Exception exception)
                    {
                        values?.Dispose();
                        Failed(progress, exception, item);
                        break;
                    }

                    if (!more)
                    {
                        values.Dispose();
                        if (!produced)
                        {
                            progress.Drop();
                        }

                        progress.Finish();
                        break;
                    }

                    if (_stop.IsCancellationRequested)
                    {
                        values.Dispose();
                        progress.Finish();
                        break;
                    }

                    if (writer.HasSealed)
                    {
                        foreach (var run in HandOver(writer.TakeSealed()))
                        {
                            yield return run;
                        }
                    }
                }
            }

            completed = true;
        }
        finally
        {
            if (!completed)
            {
                // Enumeration abandoned: the block is stopping; nothing more is passed on.
                writer.Discard();
                Counters.End(progress);
                input.Return();
                _door.RunEnded();
            }
        }

        foreach (var run in Finish(input, progress, writer))
        {
            yield return run;
        }
    }

    /// <summary>The async generator form, also used by resizable generator stages.</summary>
    private async IAsyncEnumerable<ItemRun<TOut>> StreamAsync(ItemRun<TIn> input)
    {
        if (_gate is not null && !_gate.TryEnter() && !await _gate.EnterAsync())
        {
            Abandon(input);
            yield break;
        }

        try
        {
            StartRun(input.Count);
            var progress = Counters.Begin();
            var writer = new RunWriter<TOut>(Next?.RunLength, progress);
            for (var i = 0; i < input.Count && !_stop.IsCancellationRequested; i++)
            {
                var item = input.Items[i];
                progress.Start();
                IAsyncEnumerator<TOut>? values = null;
                var produced = false;
                while (true)
                {
                    bool more;
                    Exception? failure = null;
                    try
                    {
                        values ??= _worker.IsAsync
                            ? _worker.ExpandAsync(item, _stop).GetAsyncEnumerator(_stop)
                            : new SyncEnumerator(_worker.Expand(item).GetEnumerator());
                        more = await values.MoveNextAsync();
                        if (more)
                        {
                            produced = true;
                            writer.Add(values.Current);
                        }
                    }
                    catch (Exception exception)
                    {
                        failure = exception;
                        more = false;
                    }

                    if (!more)
                    {
                        if (values is not null)
                        {
                            await values.DisposeAsync();
                        }

                        if (failure is not null)
                        {
                            await FailedAsync(progress, failure, item);
                        }
                        else
                        {
                            if (!produced)
                            {
                                progress.Drop();
                            }

                            progress.Finish();
                        }

                        break;
                    }

                    if (writer.HasSealed)
                    {
                        await WaitForRoomAsync();
                        foreach (var run in HandOver(writer.TakeSealed()))
                        {
                            yield return run;
                        }
                    }
                }
            }

            foreach (var run in Finish(input, progress, writer))
            {
                yield return run;
            }
        }
        finally
        {
            _gate?.Exit();
        }
    }

    /// <summary>Counts runs handed over mid-call against the backlog, after waiting for room in the next stage (blocking).</summary>
    private ItemRun<TOut>[] HandOver(ItemRun<TOut>[] runs)
    {
        if (Next?.Queue is { } next)
        {
            var room = next.WaitForRoomAsync(1);
            if (!room.IsCompleted)
            {
                room.GetAwaiter().GetResult();
            }
        }

        return Counted(runs);
    }

    private Task WaitForRoomAsync() => Next?.Queue?.WaitForRoomAsync(1) ?? Task.CompletedTask;

    private ItemRun<TOut>[] Counted(ItemRun<TOut>[] runs)
    {
        var items = 0;
        foreach (var run in runs)
        {
            items += run.Count;
        }

        Queue.AddBacklog(items);
        return runs;
    }

    /// <summary>Ends a run: folds its counts, returns its input array, and passes its outputs on (or discards them once stopped).</summary>
    private ItemRun<TOut>[] Finish(ItemRun<TIn> input, RunProgress progress, RunWriter<TOut> writer)
    {
        Counters.End(progress);
        input.Return();
        if (_stop.IsCancellationRequested)
        {
            writer.Discard();
            _door.RunEnded();
            Pipeline.CheckQuiescent();
            return None;
        }

        var outputs = Counted(writer.TakeAll());
        _door.RunEnded();
        return outputs;
    }

    private void StartRun(int items)
    {
        _door.Started(items);
        _door.RunStarted();
    }

    /// <summary>Drops a run the stage will not process (the pipeline stopped while it waited for the gate).</summary>
    private void Abandon(ItemRun<TIn> input)
    {
        StartRun(input.Count);
        input.Return();
        _door.RunEnded();
    }

    private void Failed(RunProgress progress, Exception exception, TIn item)
    {
        var pending = FailedAsync(progress, exception, item);
        if (!pending.IsCompleted)
        {
            // A sync worker waits for an async error handler, on its own thread.
            pending.AsTask().GetAwaiter().GetResult();
        }
    }

    private ValueTask FailedAsync(RunProgress progress, Exception exception, TIn item)
    {
        if (exception is OperationCanceledException && _stop.IsCancellationRequested)
        {
            // Interrupted by the pipeline's own stop: not a failure of the item.
            progress.Finish();
            return default;
        }

        progress.Fail();
        return Pipeline.ReportFailureAsync(this, exception, item);
    }

    /// <summary>A sync enumerator seen as an async one, for a resizable sync generator stage.</summary>
    private sealed class SyncEnumerator(IEnumerator<TOut> inner) : IAsyncEnumerator<TOut>
    {
        public TOut Current => inner.Current;

        public ValueTask<bool> MoveNextAsync() => new(inner.MoveNext());

        public ValueTask DisposeAsync()
        {
            inner.Dispose();
            return default;
        }
    }
}
