namespace JobQ.Dataflow.Internal;

/// <summary>A one-to-one sync worker: <c>Func&lt;TIn, TOut&gt;</c>.</summary>
internal sealed class SyncWorker<TIn, TOut>(Func<TIn, TOut> worker) : StageWorker<TIn, TOut>
{
    public override bool IsAsync => false;

    public override void Invoke(TIn item, IOutput<TOut> output) => output.Add(worker(item));

    public override void InvokeRun(TIn[] items, ref int i, int count, RunWriter<TOut> output, RunProgress progress, CancellationToken stop)
    {
        for (; i < count && !stop.IsCancellationRequested; i++)
        {
            progress.Start();
            output.Add(worker(items[i]));
            progress.Finish();
        }
    }
}
