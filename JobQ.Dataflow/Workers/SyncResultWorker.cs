namespace JobQ.Dataflow.Internal;

/// <summary>A one-to-one sync worker that may return <c>EmptyRst</c>: <c>Func&lt;TIn, WorkerResult&lt;TOut&gt;&gt;</c>.</summary>
internal sealed class SyncResultWorker<TIn, TOut>(Func<TIn, WorkerResult<TOut>> worker) : StageWorker<TIn, TOut>
{
    public override bool IsAsync => false;

    public override void Invoke(TIn item, IOutput<TOut> output)
    {
        var result = worker(item);
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
