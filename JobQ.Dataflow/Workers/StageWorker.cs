namespace JobQ.Dataflow.Internal;

/// <summary>
/// Adapts one user delegate to the engine: every worker kind (sync, async, generator, pass-through) funnels into
/// these calls, so a stage's block has one code path per form (sync, async, sync generator) for all kinds.
/// </summary>
internal abstract class StageWorker<TIn, TOut>
{
    /// <summary>Gets whether the worker is awaited on the thread pool rather than called on its stage's scheduler (dedicated threads while its calls are slow).</summary>
    public abstract bool IsAsync { get; }

    /// <summary>Calls a sync worker on the calling thread.</summary>
    public virtual void Invoke(TIn item, IOutput<TOut> output) => throw new NotSupportedException();

    /// <summary>
    /// Calls a sync worker for <paramref name="items"/>[<paramref name="i"/>..<paramref name="count"/>), counting each call
    /// in <paramref name="progress"/>, until the run ends or <paramref name="stop"/> is signalled. A call that throws leaves
    /// <paramref name="i"/> at its item. Overridden by the plain worker kinds, so a run of cheap calls costs a delegate call
    /// per item and no virtual one.
    /// </summary>
    public virtual void InvokeRun(TIn[] items, ref int i, int count, RunWriter<TOut> output, RunProgress progress, CancellationToken stop)
    {
        for (; i < count && !stop.IsCancellationRequested; i++)
        {
            progress.Start();
            Invoke(items[i], output);
            progress.Finish();
        }
    }

    /// <summary>Calls an async worker; holds no thread while it waits.</summary>
    public virtual ValueTask InvokeAsync(TIn item, IOutput<TOut> output, CancellationToken cancellationToken) => throw new NotSupportedException();

    /// <summary>Gets whether the worker is a sync generator whose sequence the stage streams (<see cref="Expand"/>).</summary>
    public virtual bool Streams => false;

    /// <summary>Returns a sync generator's sequence for <paramref name="item"/>, which the stage enumerates.</summary>
    public virtual IEnumerable<TOut> Expand(TIn item) => throw new NotSupportedException();
}
