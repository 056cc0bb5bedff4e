using System.Diagnostics;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// The end of a pipeline whose outputs someone takes (a pipeline block or a stream): a
/// <see cref="TransformManyBlock{TInput, TOutput}"/> that opens the last stage's runs into single items, with
/// <c>BoundedCapacity</c> = the queue size, so that at most that many outputs (and one run) wait to be taken; runs
/// it has not opened yet count in <see cref="Queue"/>, which holds the last stage back once full.
/// </summary>
/// <typeparam name="T">The type of the outputs.</typeparam>
internal sealed class TailBlock<T> : IRunTarget<T>
{
    private readonly TransformManyBlock<ItemRun<T>, T> _block;

    public TailBlock(int queueSize, CancellationToken stop)
    {
        RunLength = new RunLength(queueSize, 1);
        Queue = new StageQueue(queueSize, stop);
        _block = new TransformManyBlock<ItemRun<T>, T>(Open, new ExecutionDataflowBlockOptions { BoundedCapacity = queueSize, CancellationToken = stop });
    }

    /// <summary>Gets the block the outputs are taken from.</summary>
    public TransformManyBlock<ItemRun<T>, T> Block => _block;

    public ITargetBlock<ItemRun<T>> Target => _block;

    public RunLength RunLength { get; }

    /// <summary>Gets the outputs the last stage passed on that this block has not opened yet.</summary>
    public StageQueue Queue { get; }

    public OrderTracker? UpstreamOrder { private get; set; }

    /// <summary>Takes and discards every output waiting to be taken (the pipeline stopped).</summary>
    public void DropAll() => _block.TryReceiveAll(out _);

    private IEnumerable<T> Open(ItemRun<T> run)
    {
        Queue.Take(run.Count);
        var start = Stopwatch.GetTimestamp();
        try
        {
            for (var i = 0; i < run.Count; i++)
            {
                yield return run.Items[i];
            }
        }
        finally
        {
            RunLength.Record(run.Count, Stopwatch.GetTimestamp() - start);
            run.Return();
        }
    }
}
