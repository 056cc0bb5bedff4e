using System.Runtime.CompilerServices;

namespace JobQ.Dataflow.Internal;

/// <summary>One stage of a built pipeline, as the pipeline sees it whatever its types: its queue, counts and blocks.</summary>
internal abstract class Stage(Pipeline pipeline, int index, string name, Delegate? userDelegate)
{
    public Pipeline Pipeline { get; } = pipeline;

    /// <summary>Gets the stage's position in the worker list, from 0.</summary>
    public int Index { get; } = index;

    /// <summary>Gets the stage's name as shown in stats and logs.</summary>
    public string Name { get; } = name;

    /// <summary>Gets the delegate the user gave (for <c>SetThreadNum</c>); null for built-in stages.</summary>
    public Delegate? UserDelegate { get; } = userDelegate;

    /// <summary>Gets the tags of the stage's metrics, made once so that recording a call's duration allocates nothing.</summary>
    private KeyValuePair<string, object?>[] MetricTags { get; } = JobMetrics.StageTags(pipeline.Name, name, index);

    /// <summary>Gets the stage's call counts.</summary>
    public StageCounters Counters { get; } = new();

    /// <summary>Gets the stage's input queue (jobq's <c>input</c>), counted in items.</summary>
    public StageQueue Queue { get; } = new(pipeline.QueueSize, pipeline.Token);

    /// <summary>Gets what the stage's reordering holds back, under keepOrder with several threads; else null.</summary>
    public OrderTracker? Order { get; protected init; }

    /// <summary>Sets the order tracker of the stage before, whose held-back outputs are counted in <see cref="Queue"/> but are not there yet.</summary>
    public OrderTracker? UpstreamOrder
    {
        set => Queue.HeldBy = value;
    }

    /// <summary>Gets every Dataflow block of the stage, whose faults the pipeline watches.</summary>
    public abstract IEnumerable<IDataflowBlock> Blocks { get; }

    /// <summary>Gets the completion of the stage's last block: every output of the stage has been passed on.</summary>
    public abstract Task Completion { get; }

    /// <summary>Gets the stage's current number of workers (jobq's <c>nr_worker</c>).</summary>
    public abstract int WorkerCount { get; }

    /// <summary>Links the stage's output to <paramref name="next"/>, whose input type is this stage's output type.</summary>
    public abstract void ConnectToNext(Stage next);

    /// <summary>Changes the number of workers while the stage runs; see <c>JobManager.SetThreadNum</c>.</summary>
    public virtual void SetWorkerCount(int count) => throw new JobWorkerException($"Stage {Index} ('{Name}') cannot be resized.");

    /// <summary>The pipeline stopped: decline every later run (the stage's queue lets its waiting producers go on the stop token).</summary>
    public abstract void Cancel();

    /// <summary>Takes and discards every output the stage's blocks hold (the pipeline stopped).</summary>
    public abstract void DropOutputs();

    /// <summary>
    /// Drops the items waiting inside the stage that no call has started (a fault after completion drops a block's
    /// waiting input, as Dataflow's blocks do). Only a dispatcher stage holds such items: those routed to a partition.
    /// </summary>
    public virtual void DropWaiting()
    {
    }

    /// <summary>
    /// Completes <paramref name="block"/> once <paramref name="done"/> has ended, or faults it with the first exception
    /// <paramref name="done"/> faulted with: a stage's last block follows the blocks before it inside the stage.
    /// </summary>
    protected static void CompleteWhen(Task done, IDataflowBlock block)
        => done.ContinueWith(
            static (ended, state) =>
            {
                var block = (IDataflowBlock)state!;
                if (ended.IsFaulted)
                {
                    block.Fault(ended.Exception!.InnerException!);
                }
                else
                {
                    block.Complete();
                }
            },
            block,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);

    /// <summary>Records a call's duration in the call-duration histogram (the caller checked it is enabled).</summary>
    protected void RecordCall(long callStart) => JobMetrics.RecordCall(callStart, MetricTags);

    /// <summary>Gets whether every run of the stage in progress is inside a user call.</summary>
    public virtual bool OnlyInUserCode() => Counters.OnlyInUserCode();

    public virtual StageStats Snapshot()
    {
        var waiting = Queue.Waiting;
        var (@in, @out, failed, dropped, unstarted) = Counters.Read();
        return new StageStats(Name, InputStats(waiting, unstarted), WorkerCount, CoordinatorStats(), null, @in, @out, failed, dropped);
    }

    /// <summary>
    /// Gets the input queue as jobq reports it: the items <paramref name="waiting"/> for a worker, up to its capacity.
    /// Those include the <paramref name="unstarted"/> items of runs in progress whose calls have not started: in jobq
    /// they would still be in the queue. The queue is read before the counts, the reverse of the order a run begins
    /// in (counted as the run's own, then taken from the queue), so that items between the two are never missed.
    /// </summary>
    protected QueueStats InputStats(long waiting, long unstarted)
        => new((int)Math.Clamp(waiting + unstarted, 0, Queue.Capacity), Queue.Capacity);

    /// <summary>Gets the coordinator under keepOrder: the outputs held back until earlier items are passed on.</summary>
    protected QueueStats? CoordinatorStats()
        => Pipeline.KeepOrder ? new QueueStats(Math.Min(Order?.Parked ?? 0, Pipeline.QueueSize), Pipeline.QueueSize) : null;
}

/// <summary>A stage seen from its input: runs of <typeparamref name="TIn"/> come in through its door.</summary>
internal abstract class Stage<TIn>(Pipeline pipeline, int index, string name, Delegate? userDelegate)
    : Stage(pipeline, index, name, userDelegate), IRunTarget<TIn>
{
    /// <summary>Gets where the stage before (or the input) sends its runs.</summary>
    public abstract StageDoor<TIn> Door { get; }

    /// <summary>Gets how long the runs sent to this stage should be.</summary>
    public abstract RunLength RunLength { get; }

    public ITargetBlock<ItemRun<TIn>> Target => Door;

    public override void Cancel()
    {
        Door.Cancel();
        Order?.Freeze();
    }

    /// <summary>
    /// A run the stop cut short gives the items it never started back to the stage's queue, where they were counted
    /// until the run began: after a stop, as in jobq, what no worker took stays counted in its queue.
    /// </summary>
    protected void Unstarted(ItemRun<TIn> input, RunProgress progress) => Queue.Add(input.Count - progress.Started);

    /// <summary>
    /// Goes on on the thread pool if an await resumed elsewhere: a thread of the user's that completed a call's task (a
    /// socket reader, a message pump) gets back at once, as with a <c>TransformBlock</c>, instead of running the
    /// stage's next calls. Free on a pool thread.
    /// </summary>
    protected static ConfiguredTaskAwaitable OnThePool()
        => Task.CompletedTask.ConfigureAwait(Thread.CurrentThread.IsThreadPoolThread ? ConfigureAwaitOptions.None : ConfigureAwaitOptions.ForceYielding);

    /// <summary>A call failed: reports it (on a sync worker's own thread, waiting for an async error handler) and counts it.</summary>
    protected void Failed(RunProgress progress, Exception exception, TIn item)
    {
        var pending = FailedAsync(progress, exception, item);
        if (!pending.IsCompleted)
        {
            pending.AsTask().GetAwaiter().GetResult();
        }

        ThreadInterrupt.Clear();
    }

    /// <summary>A call failed: reports it and counts it, unless it was interrupted by the pipeline's own stop.</summary>
    protected ValueTask FailedAsync(RunProgress progress, Exception exception, TIn item)
    {
        // The failed call may have left its thread interrupted; reporting may wait on it (a logger, a handler).
        ThreadInterrupt.Clear();
        if (exception is OperationCanceledException && Pipeline.Token.IsCancellationRequested)
        {
            progress.Finish();
            return default;
        }

        // Reported (and, under FailFast, the pipeline stopped) before it is counted: whoever sees the count sees the stop.
        // From the stop until it is counted, the call is ours, not the user's: the stop must not find the stage only in
        // user code and finish the run before the failure is counted. The logging before it is the user's.
        var reported = Pipeline.ReportFailureAsync(this, exception, item, progress);
        if (reported.IsCompleted)
        {
            progress.Fail();
            return default;
        }

        // An async handler is user code, as the call was: until it returns the call counts as in progress, so a stop
        // does not wait for a handler that ignores its token.
        return FailWhenHandled(reported, progress);

        static async ValueTask FailWhenHandled(ValueTask reported, RunProgress progress)
        {
            await reported.ConfigureAwait(false);
            progress.Fail();
        }
    }
}

/// <summary>A stage with typed ends: runs of <typeparamref name="TIn"/> come in, runs of <typeparamref name="TOut"/> leave.</summary>
internal abstract class Stage<TIn, TOut>(Pipeline pipeline, int index, string name, Delegate? userDelegate)
    : Stage<TIn>(pipeline, index, name, userDelegate), IStageOutput<TOut>
{
    /// <summary>Gets the block whose outputs leave the stage.</summary>
    public abstract ISourceBlock<ItemRun<TOut>> Output { get; }

    /// <summary>Gets where the stage's outputs go; null when they are discarded (the last stage of a run).</summary>
    protected IRunTarget<TOut>? Next { get; private set; }

    public void ConnectTo(IRunTarget<TOut>? next)
    {
        Next = next;
        if (next is not null)
        {
            next.UpstreamOrder = Order;
            Door.Output = next.Queue;
            Output.LinkTo(next.Target, new DataflowLinkOptions { PropagateCompletion = true });
        }
    }

    public override void ConnectToNext(Stage next) => ConnectTo((IRunTarget<TOut>)next);

    public override void DropOutputs() => Drop(Output);

    /// <summary>Takes and discards the runs <paramref name="source"/> holds, giving their arrays back to the pool.</summary>
    protected static void Drop<T>(ISourceBlock<ItemRun<T>> source)
    {
        if (source is IReceivableSourceBlock<ItemRun<T>> receivable && receivable.TryReceiveAll(out var runs))
        {
            foreach (var run in runs)
            {
                run.Return();
            }
        }
    }

    /// <summary>
    /// Ends a run admitted through <see cref="Stage{TIn}.Door"/>: folds its counts, returns its input array, passes
    /// its outputs on (or discards them once the pipeline stopped), and frees its place at the door, at once or once
    /// Dataflow has taken the outputs (<see cref="FreesAfterHandOver"/>). <paramref name="sameThread"/>: the caller is a
    /// sync delegate, whose outputs Dataflow takes on this thread before it runs anything else (see
    /// <see cref="RunWriter{T}.TakeAll"/>).
    /// </summary>
    protected IEnumerable<ItemRun<TOut>> EndRun(ItemRun<TIn> input, RunProgress progress, RunWriter<TOut> writer, bool sameThread = false)
    {
        // From here our code and Dataflow's take locks on this thread: an interrupt a call left there is taken first.
        ThreadInterrupt.Clear();
        var stopped = Pipeline.Token.IsCancellationRequested;
        if (stopped)
        {
            writer.Discard();
            Unstarted(input, progress);
        }

        // Passed on before the counts fold: whoever sees a call finished sees its outputs in the next queue.
        var outputs = PassOn(input.Sequence, stopped ? [] : writer.TakeAll(sameThread), input.Count);
        Counters.End(progress);
        var items = input.Count;
        input.Return();
        writer.Release();
        // A run that passes nothing on has nothing to keep in order: its place frees at once.
        var freeNow = !FreesAfterHandOver || outputs.Length == 0;
        if (freeNow)
        {
            Door.RunEnded(items);
        }

        // Read again: a stop that came while this run ended may have found nothing else of ours running.
        if (Pipeline.Token.IsCancellationRequested)
        {
            Pipeline.CheckQuiescent();
        }

        return freeNow ? outputs : HandOver(outputs, items);
    }

    /// <summary>
    /// Gets whether a run's place at the door must wait until Dataflow has taken its outputs: only where the block may
    /// start a later run before this one's outputs are stored (its <c>MaxDegreeOfParallelism</c> is a cap above the
    /// stage's workers) and no reordering buffer restores the order. Elsewhere the place frees at once, which saves an
    /// iterator per run.
    /// </summary>
    protected virtual bool FreesAfterHandOver => false;

    /// <summary>
    /// A run's outputs as the block's delegate returns them. Dataflow enumerates them into the block's output right
    /// after the delegate, and only then does the run's place at the door free: a run admitted after it, which a
    /// resizable stage's block may start at once, can then never pass its outputs on first.
    /// </summary>
    private IEnumerable<ItemRun<TOut>> HandOver(ItemRun<TOut>[] outputs, int items)
    {
        try
        {
            foreach (var run in outputs)
            {
                yield return run;
            }
        }
        finally
        {
            Door.RunEnded(items);
        }
    }

    /// <summary>Counts output runs handed over before their run ends into the next stage's queue.</summary>
    protected ItemRun<TOut>[] Handed(ItemRun<TOut>[] runs)
    {
        foreach (var run in runs)
        {
            Next?.Queue.Add(run.Count);
            Pipeline.Moved(run.Count);
        }

        return runs;
    }

    /// <summary>
    /// Ends a run of <paramref name="consumed"/> items: its outputs join the next stage's queue, and a reordering stage
    /// learns how many it holds back.
    /// </summary>
    protected ItemRun<TOut>[] PassOn(long sequence, ItemRun<TOut>[] runs, int consumed)
    {
        var items = 0;
        foreach (var run in runs)
        {
            items += run.Count;
        }

        // Parked (if out of order) before they are counted, so they never take the next queue's room.
        Order?.Ended(sequence, items);
        Next?.Queue.Add(items);
        Pipeline.Moved(items - consumed);
        return runs;
    }
}

/// <summary>A stage seen from its output.</summary>
/// <typeparam name="TOut">The type of the items the stage passes on.</typeparam>
internal interface IStageOutput<TOut>
{
    /// <summary>Links the stage's output to <paramref name="next"/>, propagating completion; null discards the outputs.</summary>
    void ConnectTo(IRunTarget<TOut>? next);
}

/// <summary>Where a stage sends its runs: the next stage's door, or the tail of a block or stream.</summary>
/// <typeparam name="T">The type of the items.</typeparam>
internal interface IRunTarget<T>
{
    ITargetBlock<ItemRun<T>> Target { get; }

    /// <summary>Gets how long the runs sent here should be.</summary>
    RunLength RunLength { get; }

    /// <summary>Gets the queue that counts the items sent here and not yet taken.</summary>
    StageQueue Queue { get; }

    /// <summary>Sets the order tracker of the stage that sends here.</summary>
    OrderTracker? UpstreamOrder { set; }
}
