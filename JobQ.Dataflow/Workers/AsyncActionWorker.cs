namespace JobQ.Dataflow.Internal;

/// <summary>An async worker returning a plain <c>Task</c>: awaits it, then passes the item on unchanged.</summary>
internal sealed class AsyncActionWorker<T>(Func<T, CancellationToken, Task> worker) : StageWorker<T, T>
{
    public override bool IsAsync => true;

    public override async ValueTask InvokeAsync(T item, IOutput<T> output, CancellationToken cancellationToken)
    {
        await worker(item, cancellationToken).ConfigureAwait(false);
        output.Add(item);
    }
}
