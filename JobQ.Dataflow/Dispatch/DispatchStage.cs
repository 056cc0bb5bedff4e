using System.Buffers;
using System.Diagnostics;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// A stage with a dispatcher (jobq's <c>(f, n, dispatcher)</c>): a routing <see cref="ActionBlock{TInput}"/> sends each
/// item to partition <c>dispatcher(item) mod n</c> (never negative); each partition is a block with
/// <c>MaxDegreeOfParallelism</c> 1, so a partition's items are processed one at a time in arrival order while
/// partitions run at once; an <see cref="OrderedMerge{T}"/> block puts the outputs back in input order.
/// </summary>
/// <remarks>
/// <para>The dispatcher is user code: one that throws fails only its item (logged, counted, given to the error
/// policy); one that blocks holds the router, which counts as user code, so a stop still returns.</para>
/// <para>Items count as waiting in the stage until their partition starts them, so the stage's door bounds routed
/// items too. Partitions are created on first use.</para>
/// </remarks>
internal sealed class DispatchStage<TIn, TOut> : Stage<TIn, TOut>
{
    // The merge passes outputs on and never drops an item itself: its writer's counts go nowhere.
    private static readonly RunProgress DiscardCounts = new();

    private readonly StageWorker<TIn, TOut> _worker;
    private readonly Func<TIn, int> _dispatcher;
    private readonly StageDoor<TIn> _door;
    private readonly ActionBlock<ItemRun<TIn>> _router;
    private readonly TransformManyBlock<PartitionOutput<TOut>, ItemRun<TOut>> _merge;
    private readonly OrderedMerge<TOut> _order;
    private readonly TransformManyBlock<ItemRun<TIn>, PartitionOutput<TOut>>?[] _partitions;
    private readonly int[] _routed;
    private readonly TaskScheduler _partitionScheduler;
    private readonly CancellationToken _stop;
    private readonly (TIn[]? Items, int Count)[] _pending;
    private volatile bool _routing;

    // Set by DropWaiting: partitions start no more calls, and the items they skip leave the stage uncounted.
    private volatile bool _dropWaiting;

    public DispatchStage(Pipeline pipeline, int index, string name, Delegate? userDelegate, StageWorker<TIn, TOut> worker, int partitions, Func<TIn, int> dispatcher)
        : base(pipeline, index, name, userDelegate)
    {
        _worker = worker;
        _dispatcher = dispatcher;
        _stop = pipeline.Token;
        _partitions = new TransformManyBlock<ItemRun<TIn>, PartitionOutput<TOut>>?[partitions];
        _pending = new (TIn[]?, int)[partitions];
        _routed = new int[partitions];

        _order = new OrderedMerge<TOut>(partitions);
        RunLength = new RunLength(pipeline.QueueSize, 1);
        _partitionScheduler = worker.IsAsync ? TaskScheduler.Default : new DedicatedThreadScheduler($"JobQ {name}", partitions + 1, RunLength);

        // The dispatcher and sync workers run with the default scheduler as current (DedicatedThreadScheduler.Hidden).
        var routerScheduler = new DedicatedThreadScheduler($"JobQ {name} router", 2);
        var routerOptions = new ExecutionDataflowBlockOptions { TaskScheduler = routerScheduler, CancellationToken = _stop };
        _router = new ActionBlock<ItemRun<TIn>>(
            input => routerScheduler.Hidden(
                static state =>
                {
                    state.Stage.Route(state.Input);
                    return true;
                },
                (Stage: this, Input: input)),
            routerOptions);
        _merge = new TransformManyBlock<PartitionOutput<TOut>, ItemRun<TOut>>(Merge, new ExecutionDataflowBlockOptions { CancellationToken = _stop });
        Completion = _router.Completion.ContinueWith(
            static (_, state) => ((DispatchStage<TIn, TOut>)state!).CompletePartitions(),
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default).Unwrap();

        _door = new StageDoor<TIn>(_router, Queue, 1, _stop) { Holders = partitions };
    }

    public override StageDoor<TIn> Door => _door;

    public override RunLength RunLength { get; }

    public override ISourceBlock<ItemRun<TOut>> Output => _merge;

    /// <summary>Gets the router, the merge and the partitions made so far (each watched by the pipeline when made).</summary>
    public override IEnumerable<IDataflowBlock> Blocks => [_router, _merge, .. _partitions.OfType<IDataflowBlock>()];

    /// <summary>Gets the completion of every block of the stage: the router, the partitions it made, and the merge.</summary>
    public override Task Completion { get; }

    public override int WorkerCount => _partitions.Length;

    public override void SetWorkerCount(int count)
        => throw new JobWorkerException($"Stage {Index} ('{Name}') has a dispatcher: its worker count is its partition count ({_partitions.Length}) and cannot change.");

    public override bool OnlyInUserCode() => !_routing && base.OnlyInUserCode();

    /// <inheritdoc/>
    /// <remarks>Partitions skip the items they have not started, as a stopped pipeline's do, but without giving them
    /// back to the stage's queue: they are dropped, as the runs still in the head are.</remarks>
    public override void DropWaiting() => _dropWaiting = true;

    public override StageStats Snapshot()
    {
        var queued = Queue.Waiting;
        var (@in, @out, failed, dropped, unstarted) = Counters.Read();
        var partitions = new PartitionStats[_partitions.Length];
        var merging = 0;
        var routed = 0;
        for (var p = 0; p < partitions.Length; p++)
        {
            var waiting = Math.Clamp(Volatile.Read(ref _routed[p]), 0, Pipeline.QueueSize);
            routed += waiting;
            var finished = Math.Max(0, _order.Waiting(p));
            merging += finished;
            partitions[p] = new PartitionStats(new QueueStats(waiting, Pipeline.QueueSize), new QueueStats(Math.Min(finished, Pipeline.QueueSize), Pipeline.QueueSize));
        }

        var coordinator = new QueueStats(Math.Min(merging, Pipeline.QueueSize), Pipeline.QueueSize);
        var input = InputStats(queued, unstarted);
        return new StageStats(Name, input with { Size = Math.Max(0, input.Size - routed) }, WorkerCount, coordinator, partitions, @in, @out, failed, dropped);
    }

    /// <summary>
    /// Routes a run's items, in order, to their partitions, one run per partition. Routed items still count in the
    /// stage's queue until their partition starts them, so the queue bounds them. A dispatcher that throws fails only
    /// its item.
    /// </summary>
    private void Route(ItemRun<TIn> input)
    {
        _routing = true;
        var routes = ArrayPool<int>.Shared.Rent(input.Count);
        var count = 0;
        try
        {
            for (var i = 0; i < input.Count && !_stop.IsCancellationRequested; i++)
            {
                var item = input.Items[i];
                int partition;
                _routing = false;
                try
                {
                    partition = Normalize(_dispatcher, item, _partitions.Length);
                }
                catch (Exception exception)
                {
                    _routing = true;
                    ThreadInterrupt.Clear();
                    Queue.Take(1);
                    Pipeline.Moved(-1);
                    DispatcherFailed(exception, item);
                    continue;
                }

                _routing = true;
                ref var pending = ref _pending[partition];
                pending.Items ??= ItemRun<TIn>.Rent(input.Count);
                pending.Items[pending.Count++] = item;
                routes[count++] = partition;
            }

            // The dispatcher may have left the router's thread interrupted; the posts below may wait for a lock.
            ThreadInterrupt.Clear();
            if (Next is not null)
            {
                _order.Route(routes, count);
                routes = null;
            }

            for (var p = 0; p < _pending.Length; p++)
            {
                Post(p);
            }
        }
        finally
        {
            _routing = false;
            if (routes is not null)
            {
                ArrayPool<int>.Shared.Return(routes);
            }

            input.Return();
            _door.RunEnded(input.Count - count);
            if (_stop.IsCancellationRequested)
            {
                Pipeline.CheckQuiescent();
            }
        }
    }

    /// <summary>Posts the items routed to partition <paramref name="p"/> so far as one run.</summary>
    private void Post(int p)
    {
        ref var pending = ref _pending[p];
        if (pending.Count == 0)
        {
            return;
        }

        var run = new ItemRun<TIn>(pending.Items!, pending.Count);
        pending = default;
        if (_stop.IsCancellationRequested)
        {
            run.Return();
            return;
        }

        Interlocked.Add(ref _routed[p], run.Count);
        Partition(p).Post(run);
    }

    private static int Normalize(Func<TIn, int> dispatcher, TIn item, int partitions)
    {
        var key = dispatcher(item) % partitions;
        return key < 0 ? key + partitions : key;
    }

    private TransformManyBlock<ItemRun<TIn>, PartitionOutput<TOut>> Partition(int p)
    {
        if (_partitions[p] is { } existing)
        {
            return existing;
        }

        var partition = p;
        var options = new ExecutionDataflowBlockOptions { TaskScheduler = _partitionScheduler, CancellationToken = _stop };
        var block = _worker.IsAsync
            ? new TransformManyBlock<ItemRun<TIn>, PartitionOutput<TOut>>(run => ProcessAsync(partition, run), options)
            : new TransformManyBlock<ItemRun<TIn>, PartitionOutput<TOut>>(
                run => ((DedicatedThreadScheduler)_partitionScheduler).Hidden(static state => state.Stage.ProcessSync(state.Partition, state.Run), (Stage: this, Partition: partition, Run: run)),
                options);
        block.LinkTo(_merge);
        Pipeline.Watch(block);
        return _partitions[p] = block;
    }

    private IEnumerable<PartitionOutput<TOut>> ProcessSync(int partition, ItemRun<TIn> input)
    {
        var (progress, output, counts, start) = Begin(partition, input);
        var timed = JobMetrics.CallDuration.Enabled;
        for (var i = 0; i < input.Count; i++)
        {
            var before = output.Count;
            if (!_stop.IsCancellationRequested && !_dropWaiting)
            {
                progress.Start();
                var callStart = timed ? Stopwatch.GetTimestamp() : 0;
                try
                {
                    _worker.Invoke(input.Items[i], output);
                    ClearIfSlow(i, input.Count);
                    progress.Finish();
                    Record(timed, callStart);
                }
                catch (Exception exception)
                {
                    Record(timed, callStart);
                    Failed(progress, exception, input.Items[i]);
                }
            }

            counts?[i] = output.Count - before;
        }

        return End(partition, input, progress, output, counts, start);
    }

    private async Task<IEnumerable<PartitionOutput<TOut>>> ProcessAsync(int partition, ItemRun<TIn> input)
    {
        var (progress, output, counts, start) = Begin(partition, input);
        var timed = JobMetrics.CallDuration.Enabled;
        for (var i = 0; i < input.Count; i++)
        {
            var before = output.Count;
            if (!_stop.IsCancellationRequested && !_dropWaiting)
            {
                progress.Start();
                var callStart = timed ? Stopwatch.GetTimestamp() : 0;
                try
                {
                    await ThreadInterrupt.Awaiting(_worker.InvokeAsync(input.Items[i], output, _stop)).ConfigureAwait(false);
                    ClearIfSlow(i, input.Count);
                    progress.Finish();
                    Record(timed, callStart);
                }
                catch (Exception exception)
                {
                    Record(timed, callStart);
                    await FailedAsync(progress, exception, input.Items[i]).ConfigureAwait(false);
                }
            }

            counts?[i] = output.Count - before;
            await OnThePool();
        }

        return End(partition, input, progress, output, counts, start);
    }

    /// <summary>
    /// A partition starts a run: its items leave the stage's queue. Its outputs are kept, with how many each item gave,
    /// for the merge; the last stage of a run keeps none (there is no order to restore).
    /// </summary>
    private (RunProgress Progress, ItemBuffer<TOut> Output, int[]? Counts, long Start) Begin(int partition, ItemRun<TIn> input)
    {
        // Counted as the run's own (not started yet) before they leave the partition's and the stage's queues.
        var progress = Counters.Begin(input.Count);
        Interlocked.Add(ref _routed[partition], -input.Count);
        Queue.Take(input.Count);
        var keep = Next is not null;
        return (progress, new ItemBuffer<TOut>(progress, keep), keep ? ArrayPool<int>.Shared.Rent(input.Count) : null, Stopwatch.GetTimestamp());
    }

    /// <summary>A partition ends a run: its outputs go to the merge, or, at the end of a run, its items are done.</summary>
    private PartitionOutput<TOut>[] End(int partition, ItemRun<TIn> input, RunProgress progress, ItemBuffer<TOut> output, int[]? counts, long start)
    {
        ThreadInterrupt.Clear();
        RunLength.Record(input.Count, Stopwatch.GetTimestamp() - start);
        if (counts is null)
        {
            // Out of the graph before the counts fold, as a run's outputs are passed on before they fold.
            Pipeline.Moved(-input.Count);
        }

        if (_stop.IsCancellationRequested)
        {
            Unstarted(input, progress);
        }

        Counters.End(progress);
        var items = input.Count;
        input.Return();
        if (_stop.IsCancellationRequested)
        {
            Pipeline.CheckQuiescent();
        }

        if (counts is null)
        {
            _door.ItemsEnded(items);
            return [];
        }

        return [new PartitionOutput<TOut>(partition, output.Take(), counts, items)];
    }

    private ItemRun<TOut>[] Merge(PartitionOutput<TOut> result)
    {
        var writer = RunWriter<TOut>.Rent(Next?.RunLength, DiscardCounts);
        var before = _order.Merged;
        _order.Add(result, writer);
        var merged = (int)(_order.Merged - before);
        _door.ItemsEnded(merged);
        ItemRun<TOut>[] outputs;
        if (_stop.IsCancellationRequested)
        {
            writer.Discard();
            outputs = [];
        }
        else
        {
            outputs = PassOn(0, writer.TakeAll(), merged);
        }

        writer.Release();
        return outputs;
    }

    /// <summary>
    /// Takes an interrupt a call left on its thread before the next call of the run, in a stage measured slow (see
    /// <see cref="ThreadInterrupt"/>); after the run's last call, its end takes it.
    /// </summary>
    private void ClearIfSlow(int call, int calls)
    {
        if (call + 1 < calls && !RunLength.IsCheap)
        {
            ThreadInterrupt.Clear();
        }
    }

    /// <summary>Records a call's duration, if the histogram is enabled (<paramref name="timed"/>, read once per run); before a failure is reported, as a worker stage does.</summary>
    private void Record(bool timed, long callStart)
    {
        if (timed)
        {
            RecordCall(callStart);
        }
    }

    private void DispatcherFailed(Exception exception, TIn item)
    {
        Counters.CountFailedCall();

        // The logger and the error handler are user code, as the dispatcher was: a stop does not wait for a handler that
        // ignores its token. Marked before the call, so that a stop the handler waits for finds the router in user code.
        _routing = false;
        var pending = Pipeline.ReportFailureAsync(this, exception, item, dispatcher: true);
        if (!pending.IsCompleted)
        {
            pending.AsTask().GetAwaiter().GetResult();
        }

        _routing = true;
    }

    private Task CompletePartitions()
    {
        var created = new List<Task>();
        foreach (var partition in _partitions)
        {
            if (partition is not null)
            {
                partition.Complete();
                created.Add(partition.Completion);
            }
        }

        CompleteWhen(Task.WhenAll(created), _merge);
        return Task.WhenAll([.. created, _router.Completion, _merge.Completion]);
    }
}
