namespace JobQ.Dataflow.Internal;

/// <summary>A one-to-one async worker that may return <c>EmptyRst</c>.</summary>
internal sealed class AsyncResultWorker<TIn, TOut>(Func<TIn, CancellationToken, ValueTask<WorkerResult<TOut>>> worker) : StageWorker<TIn, TOut>
{
    public override bool IsAsync => true;

    public override async ValueTask InvokeAsync(TIn item, IOutput<TOut> output, CancellationToken cancellationToken)
    {
        var result = await worker(item, cancellationToken).ConfigureAwait(false);
        if (result.HasValue)
        {
            output.Add(result.Value);
        }
        else
        {
            output.Drop();
        }
    }
}
