using System.Diagnostics;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// A worker stage: a <see cref="TransformManyBlock{TInput, TOutput}"/> of runs behind a <see cref="StageDoor{T}"/>,
/// with <c>MaxDegreeOfParallelism</c> = threads, <c>EnsureOrdered</c> = keepOrder and, for blocking (sync) workers, a
/// <see cref="DedicatedThreadScheduler"/>. Each message is a run; the block's delegate calls the worker once per item.
/// </summary>
/// <remarks>
/// <para>Three delegate forms: sync one-to-one (returns the output runs), async (a task of them; an async generator's
/// outputs go on when its run ends), and sync generators (an iterator that hands each output run over as it fills, so
/// a long sequence streams, waiting while the next stage's queue is full as jobq's generator workers do; not under a
/// reordering buffer, which may hold the outputs, so there a generator's outputs go on when its run ends). Dataflow's
/// <c>IAsyncEnumerable</c> form is not used: it blocks a thread while it enumerates.</para>
/// <para>A resizable stage (<c>JobManager</c>) has <c>MaxDegreeOfParallelism</c> = <see cref="JobOptions.MaxThreads"/> as
/// a cap; its door admits only as many runs as its worker count, which <see cref="SetWorkerCount"/> changes.</para>
/// <para>No call starts once the pipeline stopped, and the outputs of calls in progress then are discarded.</para>
/// </remarks>
internal sealed class WorkerStage<TIn, TOut> : Stage<TIn, TOut>
{
    private readonly StageWorker<TIn, TOut> _worker;
    private readonly StageDoor<TIn> _door;
    private readonly TransformManyBlock<ItemRun<TIn>, ItemRun<TOut>> _block;
    private readonly DedicatedThreadScheduler? _scheduler;
    private readonly CancellationToken _stop;
    private readonly bool _resizable;

    public WorkerStage(Pipeline pipeline, int index, string name, Delegate? userDelegate, StageWorker<TIn, TOut> worker, int threads, bool resizable)
        : base(pipeline, index, name, userDelegate)
    {
        _worker = worker;
        _stop = pipeline.Token;
        _resizable = resizable;
        RunLength = new RunLength(pipeline.QueueSize, threads);
        if (pipeline.KeepOrder && (threads > 1 || resizable))
        {
            Order = new OrderTracker();
        }

        // A generator streams its outputs only where no reordering buffer holds them: Dataflow decides when the call
        // starts whether a reordered call's outputs go on at once or wait for the calls before it, and a generator that
        // waited for room in the next queue for outputs Dataflow holds would wait forever.
        var streams = worker.Streams && Order is null;
        if (!worker.IsAsync)
        {
            // Every task gets a dedicated thread: one per worker, one for the task that offers the outputs on, and one
            // more while a block starts the task for its next run before the task that ended the last has finished
            // (MaxDegreeOfParallelism, or a resizable stage's door, caps the calls; this scheduler need not). A
            // streaming generator keeps its dedicated threads however cheap its calls: it blocks while the next queue is
            // full, which must not hold pool threads.
            _scheduler = new DedicatedThreadScheduler($"JobQ {name}", int.MaxValue, streams ? null : RunLength);
        }

        var options = new ExecutionDataflowBlockOptions
        {
            MaxDegreeOfParallelism = resizable ? JobOptions.MaxThreads : threads,
            EnsureOrdered = pipeline.KeepOrder,
            TaskScheduler = _scheduler ?? TaskScheduler.Default,
            CancellationToken = _stop,
        };
        // Sync forms run with the default scheduler as current (DedicatedThreadScheduler.Hidden).
        Func<ItemRun<TIn>, IEnumerable<ItemRun<TOut>>> processSync = ProcessSync;
        _block = worker.IsAsync
            ? new TransformManyBlock<ItemRun<TIn>, ItemRun<TOut>>(ProcessAsync, options)
            : streams
                ? new TransformManyBlock<ItemRun<TIn>, ItemRun<TOut>>(input => _scheduler!.Hidden(StreamSync(input)), options)
                : new TransformManyBlock<ItemRun<TIn>, ItemRun<TOut>>(input => _scheduler!.Hidden(processSync, input), options);
        // A stage that cannot be resized has the block's MaxDegreeOfParallelism as its concurrency, so the door may admit
        // one run ahead; a resizable one's cap is far above its concurrency, so it may not.
        _door = new StageDoor<TIn>(_block, Queue, threads, _stop) { Order = Order, Prefetch = resizable ? 0 : 1 };
    }

    public override StageDoor<TIn> Door => _door;

    /// <inheritdoc/>
    /// <remarks>A resizable stage's block may start more runs than the stage has workers; without keepOrder nothing
    /// else would keep a later run's outputs behind an earlier one's.</remarks>
    protected override bool FreesAfterHandOver => _resizable && !Pipeline.KeepOrder;

    public override RunLength RunLength { get; }

    public override ISourceBlock<ItemRun<TOut>> Output => _block;

    public override IEnumerable<IDataflowBlock> Blocks => [_block];

    public override Task Completion => _block.Completion;

    public override int WorkerCount => _door.Concurrency;

    public override void SetWorkerCount(int count)
    {
        var from = _door.Concurrency;
        _door.Concurrency = count;
        Pipeline.SafeLog(logger => Log.Resized(logger, Name, from, count));
    }

    /// <summary>The sync one-to-one form: every call runs on the calling (dedicated or pool) thread.</summary>
    private IEnumerable<ItemRun<TOut>> ProcessSync(ItemRun<TIn> input)
    {
        var progress = Begin(input);
        var writer = RunWriter<TOut>.Rent(Next?.RunLength, progress);
        var items = input.Items;
        var count = input.Count;
        var timed = JobMetrics.CallDuration.Enabled;

        // A slow call may leave its thread interrupted for the next one: taken before each next call or metric (see
        // ThreadInterrupt); after the last, the run's end takes it.
        var slow = !RunLength.IsCheap;
        var start = Stopwatch.GetTimestamp();
        var callStart = 0L;
        var i = 0;
        while (i < count)
        {
            try
            {
                if (!timed && !slow)
                {
                    _worker.InvokeRun(items, ref i, count, writer, progress, _stop);
                    break;
                }

                for (; i < count && !_stop.IsCancellationRequested; i++)
                {
                    progress.Start();
                    callStart = Stopwatch.GetTimestamp();
                    _worker.Invoke(items[i], writer);
                    if (slow && (i + 1 < count || timed))
                    {
                        ThreadInterrupt.Clear();
                    }

                    progress.Finish();
                    if (timed)
                    {
                        RecordCall(callStart);
                    }
                }

                break;
            }
            catch (Exception exception)
            {
                if (timed)
                {
                    RecordCall(callStart);
                }

                Failed(progress, exception, items[i]);
                i++;
            }
        }

        RunLength.Record(i, Stopwatch.GetTimestamp() - start);
        return EndRun(input, progress, writer, sameThread: true);
    }

    /// <summary>The async one-to-one form: no thread is held while a call is awaited.</summary>
    private async Task<IEnumerable<ItemRun<TOut>>> ProcessAsync(ItemRun<TIn> input)
    {
        var progress = Begin(input);
        var writer = RunWriter<TOut>.Rent(Next?.RunLength, progress);
        var timed = JobMetrics.CallDuration.Enabled;
        var slow = !RunLength.IsCheap;
        var start = Stopwatch.GetTimestamp();
        var i = 0;
        for (; i < input.Count && !_stop.IsCancellationRequested; i++)
        {
            var item = input.Items[i];
            progress.Start();
            var callStart = Stopwatch.GetTimestamp();
            try
            {
                await ThreadInterrupt.Awaiting(_worker.InvokeAsync(item, writer, _stop)).ConfigureAwait(false);
                if (slow && (i + 1 < input.Count || timed))
                {
                    ThreadInterrupt.Clear();
                }

                progress.Finish();
                if (timed)
                {
                    RecordCall(callStart);
                }
            }
            catch (Exception exception)
            {
                if (timed)
                {
                    RecordCall(callStart);
                }

                await FailedAsync(progress, exception, item).ConfigureAwait(false);
            }

            await OnThePool();
        }

        RunLength.Record(i, Stopwatch.GetTimestamp() - start);
        return EndRun(input, progress, writer);
    }

    /// <summary>
    /// The sync generator form: an iterator the block enumerates as it goes, so each output run is handed over as it
    /// fills (a long sequence streams), once the next stage's queue has room: the dedicated thread waits for it, as
    /// jobq's generator workers block on a full queue.
    /// </summary>
    private IEnumerable<ItemRun<TOut>> StreamSync(ItemRun<TIn> input)
    {
        var progress = Begin(input);
        var writer = RunWriter<TOut>.Rent(Next?.RunLength, progress);
        var ended = false;
        var slow = !RunLength.IsCheap;
        var timed = JobMetrics.CallDuration.Enabled;
        var start = Stopwatch.GetTimestamp();
        var away = 0L;
        var i = 0;
        IEnumerator<TOut>? values = null;
        try
        {
            for (; i < input.Count && !_stop.IsCancellationRequested; i++)
            {
                var item = input.Items[i];
                progress.Start();
                var callStart = timed ? Stopwatch.GetTimestamp() : 0;
                var produced = false;
                Exception? failure = null;
                while (true)
                {
                    try
                    {
                        // A call counted as started runs its first step; a stop cuts it off between outputs only.
                        values ??= _worker.Expand(item).GetEnumerator();
                        if ((produced && _stop.IsCancellationRequested) || !values.MoveNext())
                        {
                            break;
                        }

                        produced = true;
                        writer.Add(values.Current);
                    }
                    catch (Exception exception)
                    {
                        failure = exception;
                        break;
                    }

                    if (writer.HasSealed)
                    {
                        // Dataflow and the wait for room block on this thread: nothing the generator left may break them.
                        // The time spent here is not the generator's, and is left out of its measure.
                        var left = Stopwatch.GetTimestamp();
                        ThreadInterrupt.Clear();
                        if (Next is { } next && !next.Queue.HasRoom && !next.Queue.WaitForRoom())
                        {
                            break;
                        }

                        foreach (var run in Handed(writer.TakeSealed()))
                        {
                            yield return run;
                        }

                        away += Stopwatch.GetTimestamp() - left;
                    }
                }

                try
                {
                    // Part of the call, as the end of a foreach: a disposal that throws fails the item.
                    values?.Dispose();
                }
                catch (Exception exception)
                {
                    failure ??= exception;
                }

                values = null;
                if (timed)
                {
                    RecordCall(callStart);
                }

                if (slow && i + 1 < input.Count)
                {
                    ThreadInterrupt.Clear();
                }

                if (failure is not null)
                {
                    Failed(progress, failure, item);
                }
                else
                {
                    if (!produced)
                    {
                        progress.Drop();
                    }

                    progress.Finish();
                }
            }

            ended = true;
            RunLength.Record(i, Stopwatch.GetTimestamp() - start - away);
        }
        finally
        {
            if (!ended)
            {
                // Enumeration abandoned: the block is stopping; nothing more is passed on, and the user's generator,
                // cut off at a yield, is disposed so that its own finally blocks run.
                DisposeQuietly(values);
                ThreadInterrupt.Clear();
                writer.Discard();
                Unstarted(input, progress);
                Counters.End(progress);
                input.Return();
                _door.RunEnded(input.Count);
            }
        }

        foreach (var run in EndRun(input, progress, writer))
        {
            yield return run;
        }
    }

    /// <summary>Disposes a generator cut off by a stop; what its disposal throws is the user's and changes nothing now.</summary>
    private static void DisposeQuietly(IEnumerator<TOut>? values)
    {
        try
        {
            values?.Dispose();
        }
        catch (Exception)
        {
            // The run is stopping: nothing is passed on or counted any more.
        }
    }

    /// <summary>
    /// A run starts: its items leave the stage's queue, once the run counts them as its own (not started yet), so that no
    /// reader and no stop finds them in neither count.
    /// </summary>
    private RunProgress Begin(ItemRun<TIn> input)
    {
        var progress = Counters.Begin(input.Count);
        Queue.Take(input.Count);
        return progress;
    }
}
