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

    /// <summary>Gets the stage's call counts.</summary>
    public StageCounters Counters { get; } = new();

    /// <summary>Gets the stage's input queue, counted in items.</summary>
    public abstract StageQueue Queue { get; }

    /// <summary>Gets every Dataflow block of the stage, whose faults the pipeline watches.</summary>
    public abstract IEnumerable<IDataflowBlock> Blocks { get; }

    /// <summary>Gets the completion of the stage's last block: every output of the stage has been passed on.</summary>
    public abstract Task Completion { get; }

    /// <summary>Gets the stage's current number of workers (jobq's <c>nr_worker</c>).</summary>
    public abstract int WorkerCount { get; }

    /// <summary>Gets the capacity reported for the stage's coordinator: the most finished items it holds back.</summary>
    public int CoordinatorCapacity => Queue.BacklogLimit + (WorkerCount * MaxRun);

    /// <summary>Gets the most items one message carries into this stage.</summary>
    protected abstract int MaxRun { get; }

    /// <summary>Links the stage's output to the door of <paramref name="next"/>, whose input type is this stage's output type.</summary>
    public abstract void ConnectToNext(Stage next);

    /// <summary>Changes the number of workers while the stage runs; see <c>JobManager.SetThreadNum</c>.</summary>
    public virtual void SetWorkerCount(int count) => throw new JobWorkerException($"Stage {Index} ('{Name}') cannot be resized.");

    /// <summary>The pipeline stopped: decline every later run and release whoever waits for room.</summary>
    public virtual void Cancel() => Queue.Cancel();

    /// <summary>Gets whether every run of the stage in progress is inside a user call.</summary>
    public virtual bool OnlyInUserCode() => Counters.OnlyInUserCode();

    public virtual StageStats Snapshot()
    {
        var (@in, @out, failed, dropped) = Counters.Read();
        QueueStats? coordinator = Pipeline.KeepOrder ? new QueueStats((int)Math.Max(0, Queue.Backlog), Math.Max(Pipeline.QueueSize, CoordinatorCapacity)) : null;
        return new StageStats(Name, new QueueStats(Math.Max(0, Queue.Waiting), Queue.Capacity), WorkerCount, coordinator, null, @in, @out, failed, dropped);
    }
}

/// <summary>A stage seen from its input: runs of <typeparamref name="TIn"/> come in through its door.</summary>
internal abstract class Stage<TIn>(Pipeline pipeline, int index, string name, Delegate? userDelegate)
    : Stage(pipeline, index, name, userDelegate), IRunTarget<TIn>
{
    /// <summary>Gets where the stage before (or the input) sends its runs.</summary>
    public abstract StageDoor<TIn> Door { get; }

    public override StageQueue Queue => Door;

    public abstract RunLength RunLength { get; }

    public ITargetBlock<ItemRun<TIn>> Target => Door;

    StageQueue? IRunTarget<TIn>.Queue => Door;

    StageQueue? IRunTarget<TIn>.Upstream
    {
        set => Door.Upstream = value;
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
            next.Upstream = Queue;
            Output.LinkTo(next.Target, new DataflowLinkOptions { PropagateCompletion = true });
        }
    }

    public override void ConnectToNext(Stage next) => ConnectTo((IRunTarget<TOut>)next);
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

    /// <summary>Gets the queue whose room a stage streaming many outputs waits for; null when there is none to wait for.</summary>
    StageQueue? Queue { get; }

    /// <summary>Sets the queue of the stage that sends here, whose backlog shrinks as runs are taken.</summary>
    StageQueue? Upstream { set; }
}
