namespace JobQ.Dataflow.Internal;

/// <summary>
/// Adapts one user delegate to the engine: every worker kind (sync, async, generator, pass-through) funnels
/// into one of these two calls, so the lanes have one code path for all kinds.
/// </summary>
internal abstract class StageWorker<TIn, TOut>
{
    /// <summary>Gets whether the worker is awaited (runs as an async lane) rather than called on a dedicated thread.</summary>
    public abstract bool IsAsync { get; }

    /// <summary>Calls a sync worker; runs on a dedicated thread.</summary>
    public virtual void Invoke(TIn item, IOutput<TOut> output) => throw new NotSupportedException();

    /// <summary>Calls an async worker; holds no thread while it waits.</summary>
    public virtual ValueTask InvokeAsync(TIn item, IOutput<TOut> output, CancellationToken cancellationToken) => throw new NotSupportedException();

    /// <summary>Gets whether the worker is a sync generator whose sequence the stage streams (<see cref="Expand"/>).</summary>
    public virtual bool Streams => false;

    /// <summary>Returns a sync generator's sequence for <paramref name="item"/>, which the stage enumerates.</summary>
    public virtual IEnumerable<TOut> Expand(TIn item) => throw new NotSupportedException();
}
