namespace JobQ.Dataflow.Internal;

/// <summary>A one-to-one async worker; the <c>Task</c> forms are adapted to this <c>ValueTask</c> form.</summary>
internal sealed class AsyncWorker<TIn, TOut>(Func<TIn, CancellationToken, ValueTask<TOut>> worker) : StageWorker<TIn, TOut>
{
    public override bool IsAsync => true;

    public override ValueTask InvokeAsync(TIn item, IOutput<TOut> output, CancellationToken cancellationToken)
    {
        var pending = worker(item, cancellationToken);
        if (pending.IsCompletedSuccessfully)
        {
            output.Add(pending.Result);
            return default;
        }

        return Awaited(pending, output);

        static async ValueTask Awaited(ValueTask<TOut> pending, IOutput<TOut> output) => output.Add(await pending.ConfigureAwait(false));
    }
}
