using JobQ.Dataflow.Internal;

namespace JobQ.Dataflow;

/// <summary>One validated entry of a worker list: what to run, on how many workers, with which dispatcher.</summary>
/// <remarks>Immutable, so a worker list can be reused by any number of runs at once.</remarks>
internal abstract class StageSpec(string name, int threads, Delegate? userDelegate, bool hasDispatcher)
{
    /// <summary>Gets the stage's name as shown in stats and logs.</summary>
    public string Name { get; } = name;

    /// <summary>Gets the initial worker count (partitions, with a dispatcher).</summary>
    public int Threads { get; } = threads;

    /// <summary>Gets the delegate the user gave, matched by <c>SetThreadNum</c>; null for built-in stages.</summary>
    public Delegate? UserDelegate { get; } = userDelegate;

    /// <summary>Gets whether the stage routes items to partitions with a dispatcher.</summary>
    public bool HasDispatcher { get; } = hasDispatcher;

    /// <summary>Builds the stage's runtime, writing its outputs into <paramref name="output"/> (an <c>ItemQueue&lt;TOut&gt;</c>, or null to discard).</summary>
    public abstract StageRuntime Create(PipelineRuntime pipeline, int index, object? output);

    /// <summary>Gets whether the stage's calls are wrapped in a resilience pipeline of their own.</summary>
    public abstract bool HasResilience { get; }

    /// <summary>Returns a copy of this stage whose every call runs inside <paramref name="resilience"/>.</summary>
    public abstract StageSpec WithResilience(StageResilience resilience);
}

/// <summary>A typed worker-list entry.</summary>
internal sealed class StageSpec<TIn, TOut>(
    string name,
    int threads,
    Delegate? userDelegate,
    Func<StageContext, StageWorker<TIn, TOut>> workerFactory,
    Func<TIn, int>? dispatcher,
    StageResilience? resilience = null)
    : StageSpec(name, threads, userDelegate, dispatcher is not null)
{
    public override bool HasResilience => resilience is not null;

    public override StageSpec WithResilience(StageResilience resilience)
        => new StageSpec<TIn, TOut>(Name, Threads, UserDelegate, workerFactory, dispatcher, resilience);

    public override StageRuntime Create(PipelineRuntime pipeline, int index, object? output)
    {
        var context = new StageContext(pipeline, index, Name);
        var worker = workerFactory(context);
        if (resilience is not null)
        {
            worker = resilience.Wrap(worker, context.Token);
        }

        var outputQueue = (ItemQueue<TOut>?)output;
        return dispatcher is null
            ? new WorkerStage<TIn, TOut>(context, worker, Threads, pipeline.KeepOrder, outputQueue)
            : new DispatchStage<TIn, TOut>(context, worker, Threads, dispatcher, outputQueue);
    }
}
