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
    private volatile bool _routing;
    private int _created;

    public DispatchStage(Pipeline pipeline, int index, string name, Delegate? userDelegate, StageWorker<TIn, TOut> worker, int partitions, Func<TIn, int> dispatcher)
        : base(pipeline, index, name, userDelegate)
    {
        _worker = worker;
        _dispatcher = dispatcher;
        _stop = pipeline.Token;
        _partitions = new TransformManyBlock<ItemRun<TIn>, PartitionOutput<TOut>>?[partitions];
        _routed = new int[partitions];
        _order = new OrderedMerge<TOut>(partitions);
        RunLength = new RunLength(pipeline.QueueSize, partitions);
        _partitionScheduler = worker.IsAsync ? TaskScheduler.Default : new DedicatedThreadScheduler($"JobQ {name}", partitions + 1, RunLength);

        _router = new ActionBlock<ItemRun<TIn>>(Route, new ExecutionDataflowBlockOptions
        {
            TaskScheduler = new DedicatedThreadScheduler($"JobQ {name} router", 2, new RunLength(pipeline.QueueSize, 1)),
            CancellationToken = _stop,
        });
        _merge = new TransformManyBlock<PartitionOutput<TOut>, ItemRun<TOut>>(Merge, new ExecutionDataflowBlockOptions { CancellationToken = _stop });
        _router.Completion.ContinueWith(
            static (_, state) => ((DispatchStage<TIn, TOut>)state!).CompletePartitions(),
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);

        var backlogLimit = Math.Max(1, pipeline.QueueSize - (partitions * RunLength.Max));
        _door = new StageDoor<TIn>(_router, pipeline.QueueSize, backlogLimit, _stop);
    }

    public override StageDoor<TIn> Door => _door;

    public override RunLength RunLength { get; }

    public override ISourceBlock<ItemRun<TOut>> Output => _merge;

    public override IEnumerable<IDataflowBlock> Blocks => [_router, _merge];

    public override Task Completion => _merge.Completion;

    public override int WorkerCount => _partitions.Length;

    protected override int MaxRun => RunLength.Max;

    public override void SetWorkerCount(int count)
        => throw new JobWorkerException($"Stage {Index} ('{Name}') has a dispatcher: its worker count is its partition count ({_partitions.Length}) and cannot change.");

    public override bool OnlyInUserCode() => !_routing && base.OnlyInUserCode();

    public override StageStats Snapshot()
    {
        var (@in, @out, failed, dropped) = Counters.Read();
        var partitions = new PartitionStats[_partitions.Length];
        var routed = 0;
        for (var p = 0; p < partitions.Length; p++)
        {
            var waiting = Volatile.Read(ref _routed[p]);
            routed += waiting;
            partitions[p] = new PartitionStats(new QueueStats(Math.Max(0, waiting), Pipeline.QueueSize), new QueueStats(Math.Max(0, _order.Waiting(p)), Pipeline.QueueSize));
        }

        var input = new QueueStats(Math.Max(0, Queue.Waiting - routed), Queue.Capacity);
        var coordinator = new QueueStats((int)Math.Max(0, Queue.Backlog), Math.Max(Pipeline.QueueSize, CoordinatorCapacity));
        return new StageStats(Name, input, WorkerCount, coordinator, partitions, @in, @out, failed, dropped);
    }

    private void Route(ItemRun<TIn> input)
    {
        _door.RunStarted();
        _routing = true;
        var routes = ArrayPool<int>.Shared.Rent(input.Count);
        var runs = new (TIn[]? Items, int Count)[_partitions.Length];
        var count = 0;
        var start = Stopwatch.GetTimestamp();
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
                    DispatcherFailed(exception, item);
                    continue;
                }

                _routing = true;
                ref var run = ref runs[partition];
                run.Items ??= ItemRun<TIn>.Rent(input.Count);
                run.Items[run.Count++] = item;
                routes[count++] = partition;
            }
        }
        finally
        {
            _routing = false;
        }

        // Items not routed (failed dispatcher, or a stop) leave the queue here; routed ones when their partition starts them.
        _door.Started(input.Count - count);
        input.Return();
        if (_stop.IsCancellationRequested)
        {
            ArrayPool<int>.Shared.Return(routes);
            foreach (var run in runs)
            {
                ItemRun<TIn>.Return(run.Items, run.Count);
            }
        }
        else
        {
            _order.Route(routes, count);
            for (var p = 0; p < runs.Length; p++)
            {
                if (runs[p].Items is { } items)
                {
                    Interlocked.Add(ref _routed[p], runs[p].Count);
                    Partition(p).Post(new ItemRun<TIn>(items, runs[p].Count));
                }
            }
        }

        _door.RunEnded();
        Pipeline.CheckQuiescent();
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
            : new TransformManyBlock<ItemRun<TIn>, PartitionOutput<TOut>>(run => [ProcessSync(partition, run)], options);
        block.LinkTo(_merge);
        Interlocked.Increment(ref _created);
        return _partitions[p] = block;
    }

    private PartitionOutput<TOut> ProcessSync(int partition, ItemRun<TIn> input)
    {
        Interlocked.Add(ref _routed[partition], -input.Count);
        _door.Started(input.Count);
        var progress = Counters.Begin();
        var output = new ItemBuffer<TOut>(progress);
        var counts = ArrayPool<int>.Shared.Rent(input.Count);
        for (var i = 0; i < input.Count; i++)
        {
            var before = output.Count;
            if (!_stop.IsCancellationRequested)
            {
                progress.Start();
                try
                {
                    _worker.Invoke(input.Items[i], output);
                    progress.Finish();
                }
                catch (Exception exception)
                {
                    progress.Fail();
                    var pending = Pipeline.ReportFailureAsync(this, exception, input.Items[i]);
                    if (!pending.IsCompleted)
                    {
                        pending.AsTask().GetAwaiter().GetResult();
                    }
                }
            }

            counts[i] = output.Count - before;
        }

        return Finish(partition, input, progress, output, counts);
    }

    private async Task<IEnumerable<PartitionOutput<TOut>>> ProcessAsync(int partition, ItemRun<TIn> input)
    {
        Interlocked.Add(ref _routed[partition], -input.Count);
        _door.Started(input.Count);
        var progress = Counters.Begin();
        var output = new ItemBuffer<TOut>(progress);
        var counts = ArrayPool<int>.Shared.Rent(input.Count);
        for (var i = 0; i < input.Count; i++)
        {
            var before = output.Count;
            if (!_stop.IsCancellationRequested)
            {
                progress.Start();
                try
                {
                    await _worker.InvokeAsync(input.Items[i], output, _stop).ConfigureAwait(false);
                    progress.Finish();
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    progress.Finish();
                }
                catch (Exception exception)
                {
                    progress.Fail();
                    await Pipeline.ReportFailureAsync(this, exception, input.Items[i]).ConfigureAwait(false);
                }
            }

            counts[i] = output.Count - before;
        }

        return [Finish(partition, input, progress, output, counts)];
    }

    private PartitionOutput<TOut> Finish(int partition, ItemRun<TIn> input, RunProgress progress, ItemBuffer<TOut> output, int[] counts)
    {
        Counters.End(progress);
        var values = output.Take();
        Queue.AddBacklog(values.Count);
        var result = new PartitionOutput<TOut>(partition, values, counts, input.Count);
        input.Return();
        if (_stop.IsCancellationRequested)
        {
            Pipeline.CheckQuiescent();
        }

        return result;
    }

    private ItemRun<TOut>[] Merge(PartitionOutput<TOut> result)
    {
        var writer = new RunWriter<TOut>(Next?.RunLength ?? RunLength, DiscardCounts);
        _order.Add(result, writer);
        if (Next is null || _stop.IsCancellationRequested)
        {
            // The last stage of a run: nothing goes on, so nothing stays counted as held back.
            Queue.AddBacklog(-writer.Written);
            writer.Discard();
            return [];
        }

        return writer.TakeAll();
    }

    private void DispatcherFailed(Exception exception, TIn item)
    {
        Counters.CountFailedCall();
        var pending = Pipeline.ReportFailureAsync(this, exception, item, dispatcher: true);
        if (!pending.IsCompleted)
        {
            pending.AsTask().GetAwaiter().GetResult();
        }
    }

    private void CompletePartitions()
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

        Task.WhenAll(created).ContinueWith(
            static (all, state) =>
            {
                var merge = (IDataflowBlock)state!;
                if (all.IsFaulted)
                {
                    merge.Fault(all.Exception!.InnerException!);
                }
                else
                {
                    merge.Complete();
                }
            },
            _merge,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }
}
