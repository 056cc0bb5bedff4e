namespace JobQ.Dataflow.Internal;

/// <summary>A one-to-many sync worker (jobq's generator worker): every element it yields goes on as its own item.</summary>
internal sealed class SyncManyWorker<TIn, TOut>(Func<TIn, IEnumerable<TOut>> worker) : StageWorker<TIn, TOut>
{
    public override bool IsAsync => false;

    public override bool Streams => true;

    public override IEnumerable<TOut> Expand(TIn item) => WorkerReturned.Sequence(worker(item));

    public override void Invoke(TIn item, IOutput<TOut> output)
    {
        var produced = false;
        foreach (var value in WorkerReturned.Sequence(worker(item)))
        {
            produced = true;
            output.Add(value);
        }

        if (!produced)
        {
            output.Drop();
        }
    }
}
