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

    /// <summary>Gets whether the stage's calls are wrapped in a resilience pipeline of their own.</summary>
    public abstract bool HasResilience { get; }

    /// <summary>Returns a copy of this stage whose every call runs inside <paramref name="resilience"/>.</summary>
    public abstract StageSpec WithResilience(StageResilience resilience);

    /// <summary>Builds the stage's blocks for <paramref name="pipeline"/>; <paramref name="resizable"/> for a <c>JobManager</c>.</summary>
    public abstract Stage Create(Pipeline pipeline, int index, bool resizable);
}

/// <summary>A typed worker-list entry: a worker (made per run by its factory), or a speed limit.</summary>
internal sealed class StageSpec<TIn, TOut>(
    string name,
    int threads,
    Delegate? userDelegate,
    Func<Pipeline, StageWorker<TIn, TOut>>? workerFactory,
    Func<TIn, int>? dispatcher,
    StageResilience? resilience = null,
    SpeedLimit? speedLimit = null)
    : StageSpec(name, threads, userDelegate, dispatcher is not null)
{
    public override bool HasResilience => resilience is not null;

    public override StageSpec WithResilience(StageResilience resilience)
        => new StageSpec<TIn, TOut>(Name, Threads, UserDelegate, workerFactory, dispatcher, resilience, speedLimit);

    public override Stage Create(Pipeline pipeline, int index, bool resizable)
    {
        if (speedLimit is not null)
        {
            return new SpeedLimitStage<TIn>(pipeline, index, Name, speedLimit);
        }

        var worker = workerFactory!(pipeline);
        if (resilience is not null)
        {
            worker = resilience.Wrap(worker, pipeline.Token);
        }

        return dispatcher is null
            ? new WorkerStage<TIn, TOut>(pipeline, index, Name, UserDelegate, worker, Threads, resizable)
            : new DispatchStage<TIn, TOut>(pipeline, index, Name, UserDelegate, worker, Threads, dispatcher);
    }
}
