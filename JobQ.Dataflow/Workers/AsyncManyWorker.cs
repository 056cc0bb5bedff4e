namespace JobQ.Dataflow.Internal;

/// <summary>A one-to-many async worker: every element of its <c>IAsyncEnumerable</c> goes on as its own item.</summary>
internal sealed class AsyncManyWorker<TIn, TOut>(Func<TIn, CancellationToken, IAsyncEnumerable<TOut>> worker) : StageWorker<TIn, TOut>
{
    public override bool IsAsync => true;

    public override async ValueTask InvokeAsync(TIn item, IOutput<TOut> output, CancellationToken cancellationToken)
    {
        var produced = false;
        await foreach (var value in worker(item, cancellationToken).WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            produced = true;
            output.Add(value);

            // A stop cuts the call off between outputs, as a sync generator's, whether or not the generator looks at its
            // token: leaving the loop disposes it, so its finally blocks run.
            if (cancellationToken.IsCancellationRequested)
            {
                break;
            }
        }

        if (!produced)
        {
            output.Drop();
        }
    }
}
