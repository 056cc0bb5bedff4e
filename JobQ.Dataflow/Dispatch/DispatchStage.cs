using System.Runtime.CompilerServices;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// A stage with a dispatcher: a router sends each item to partition <c>dispatcher(item) mod n</c>; each
/// partition is a one-worker stage, so its items are processed one at a time in arrival order while partitions
/// run at once; a merger puts the results back in input order (jobq's dispatcher and coordinator).
/// </summary>
/// <remarks>
/// <para>The router writes, for every routed item, its partition number into the route log, in input order. The
/// merger reads the route log and, for each entry, that partition's outputs up to the item's end marker. Every
/// item the router routes gets exactly one end marker, so the two stay in step whatever the worker does.</para>
/// <para>No deadlock: the router writes items to partitions in input order, so every item older than the one it
/// waits to write is already in a partition, and the merger only ever waits for the oldest item.</para>
/// </remarks>
internal sealed class DispatchStage<TIn, TOut> : StageRuntime
{
    private readonly Func<TIn, int> _dispatcher;
    private readonly ItemQueue<TOut>? _output;
    private readonly WorkerStage<TIn, Marked<TOut>>[] _partitions;
    private readonly ItemQueue<Marked<TOut>>[] _partitionOutputs;
    private readonly ItemQueue<int> _routeLog;
    private long _dispatcherFailures;

    public DispatchStage(StageContext context, StageWorker<TIn, TOut> worker, int partitions, Func<TIn, int> dispatcher, ItemQueue<TOut>? output)
        : base(context)
    {
        _dispatcher = dispatcher;
        _output = output;
        Input = new ItemQueue<TIn>(context.QueueSize);
        _partitions = new WorkerStage<TIn, Marked<TOut>>[partitions];
        _partitionOutputs = new ItemQueue<Marked<TOut>>[partitions];
        for (var p = 0; p < partitions; p++)
        {
            _partitionOutputs[p] = new ItemQueue<Marked<TOut>>(context.QueueSize);
            _partitions[p] = new WorkerStage<TIn, Marked<TOut>>(context, new PartitionWorker<TIn, TOut>(worker), 1, keepOrder: false, _partitionOutputs[p]);
        }

        // Large enough for every item that can sit in partitions (input, in progress, output), so the router
        // blocks on a full partition before it could block on the log.
        _routeLog = new ItemQueue<int>((int)Math.Min(int.MaxValue, ((2L * context.QueueSize) + 1) * partitions));
    }

    public ItemQueue<TIn> Input { get; }

    public override object InputQueue => Input;

    public override long Doing
    {
        get
        {
            long doing = 0;
            foreach (var partition in _partitions)
            {
                doing += partition.Doing;
            }

            return doing;
        }
    }

    public override void Start()
    {
        foreach (var partition in _partitions)
        {
            partition.Start();
        }

        var pipeline = Context.Pipeline;
        pipeline.LoopStarted();
        _ = Task.Run(RouteAsync);
        pipeline.LoopStarted();
        _ = Task.Run(MergeAsync);
    }

    public override void Abort()
    {
        Input.Abort();
        _routeLog.Abort();
        foreach (var partition in _partitions)
        {
            partition.Abort();
        }

        foreach (var queue in _partitionOutputs)
        {
            queue.Abort();
        }
    }

    public override void SetWorkerCount(int count)
        => throw new JobWorkerException(
            $"Stage '{Name}' has a dispatcher: its worker count is its number of partitions ({_partitions.Length}) and cannot change while it runs.");

    public override StageStats Snapshot()
    {
        var total = default(LaneCounters);
        var partitions = new PartitionStats[_partitions.Length];
        for (var p = 0; p < _partitions.Length; p++)
        {
            total.Add(_partitions[p].Totals());
            var input = _partitions[p].Input;
            var output = _partitionOutputs[p];
            partitions[p] = new PartitionStats(new QueueStats(input.Count, input.Capacity), new QueueStats(output.Count, output.Capacity));
        }

        // A dispatcher call that failed is a call of this stage that started, finished and failed, so that every item
        // the stage received is accounted for: In = Out = passed on + Failed + Dropped.
        var dispatcherFailures = Volatile.Read(ref _dispatcherFailures);
        return new StageStats(
            Name,
            new QueueStats(Input.Count, Input.Capacity),
            _partitions.Length,
            new QueueStats(_routeLog.Count, _routeLog.Capacity),
            partitions,
            total.Started + dispatcherFailures,
            total.Finished + dispatcherFailures,
            total.Failed + dispatcherFailures,
            total.Dropped);
    }

    private async Task RouteAsync()
    {
        var maxRun = Context.MaxRun;
        var items = new TIn[maxRun];
        var routes = new int[maxRun];
        var waiter = new AsyncWaiter();
        var token = Context.Token;
        var count = _partitions.Length;
        try
        {
            while (true)
            {
                var (n, _) = await Input.TakeAsync(items, 1, waiter, Input.KickEpoch).ConfigureAwait(false);
                if (n <= 0)
                {
                    break;
                }

                var routed = 0;
                for (var i = 0; i < n && !token.IsCancellationRequested; i++)
                {
                    int partition;
                    try
                    {
                        partition = _dispatcher(items[i]) % count;
                    }
                    catch (Exception exception)
                    {
                        Interlocked.Increment(ref _dispatcherFailures);
                        await Context.HandleFailureAsync(exception, items[i], dispatcher: true).ConfigureAwait(false);
                        continue;
                    }

                    // C#'s remainder keeps the dividend's sign; jobq's (Python's) never is negative.
                    routes[routed] = partition < 0 ? partition + count : partition;
                    items[routed] = items[i];
                    routed++;
                }

                if (await _routeLog.WriteAsync(routes.AsMemory(0, routed), waiter).ConfigureAwait(false) < routed)
                {
                    break;
                }

                for (var start = 0; start < routed;)
                {
                    var partition = routes[start];
                    var end = start + 1;
                    while (end < routed && routes[end] == partition)
                    {
                        end++;
                    }

                    await _partitions[partition].Input.WriteAsync(items.AsMemory(start, end - start), waiter).ConfigureAwait(false);
                    start = end;
                }

                if (RuntimeHelpers.IsReferenceOrContainsReferences<TIn>())
                {
                    Array.Clear(items, 0, n);
                }
            }
        }
        catch (Exception exception)
        {
            Context.Pipeline.Fail(exception, Context);
        }
        finally
        {
            if (!token.IsCancellationRequested)
            {
                _routeLog.Complete();
                foreach (var partition in _partitions)
                {
                    partition.Input.Complete();
                }
            }

            Context.Pipeline.LoopExited();
        }
    }

    private async Task MergeAsync()
    {
        var maxRun = Context.MaxRun;
        var routes = new int[maxRun];
        var waiter = new AsyncWaiter();
        var token = Context.Token;
        var local = new Marked<TOut>[_partitions.Length][];
        var position = new int[_partitions.Length];
        var filled = new int[_partitions.Length];
        var outputs = new TOut[_output is null ? 0 : maxRun];
        var outCount = 0;
        try
        {
            while (true)
            {
                var (n, _) = await _routeLog.TakeAsync(routes, 1, waiter, _routeLog.KickEpoch).ConfigureAwait(false);
                if (n <= 0)
                {
                    break;
                }

                for (var i = 0; i < n; i++)
                {
                    var p = routes[i];
                    while (true)
                    {
                        if (position[p] == filled[p])
                        {
                            local[p] ??= new Marked<TOut>[maxRun];
                            (filled[p], _) = await _partitionOutputs[p].TakeAsync(local[p], 1, waiter, _partitionOutputs[p].KickEpoch).ConfigureAwait(false);
                            position[p] = 0;
                            if (filled[p] <= 0)
                            {
                                return; // Stopped.
                            }
                        }

                        var entry = local[p][position[p]++];
                        if (entry.IsEnd)
                        {
                            break;
                        }

                        if (_output is null)
                        {
                            continue;
                        }

                        outputs[outCount++] = entry.Value;
                        if (outCount == outputs.Length || _output.HasWaitingReaders)
                        {
                            outCount = await FlushAsync(outputs, outCount, waiter, token).ConfigureAwait(false);
                        }
                    }
                }

                outCount = await FlushAsync(outputs, outCount, waiter, token).ConfigureAwait(false);
            }
        }
        catch (Exception exception)
        {
            Context.Pipeline.Fail(exception, Context);
        }
        finally
        {
            if (!token.IsCancellationRequested)
            {
                _output?.Complete();
                MarkCompleted();
            }

            Context.Pipeline.LoopExited();
        }
    }

    private async ValueTask<int> FlushAsync(TOut[] outputs, int count, AsyncWaiter waiter, CancellationToken token)
    {
        if (count != 0 && _output is not null && !token.IsCancellationRequested)
        {
            await _output.WriteAsync(outputs.AsMemory(0, count), waiter).ConfigureAwait(false);
        }

        if (RuntimeHelpers.IsReferenceOrContainsReferences<TOut>())
        {
            Array.Clear(outputs, 0, count);
        }

        return 0;
    }
}
