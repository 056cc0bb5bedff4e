namespace JobQ.Dataflow.Internal;

/// <summary>An <c>Action&lt;T&gt;</c> worker: calls it, then passes the item on unchanged.</summary>
internal sealed class SyncActionWorker<T>(Action<T> worker) : StageWorker<T, T>
{
    public override bool IsAsync => false;

    public override void Invoke(T item, IOutput<T> output)
    {
        worker(item);
        output.Add(item);
    }

    public override void InvokeRun(T[] items, ref int i, int count, RunWriter<T> output, RunProgress progress, CancellationToken stop)
    {
        for (; i < count && !stop.IsCancellationRequested; i++)
        {
            progress.Start();
            worker(items[i]);
            output.Add(items[i]);
            progress.Finish();
        }
    }
}
