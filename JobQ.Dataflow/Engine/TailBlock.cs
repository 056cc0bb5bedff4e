using System.Diagnostics;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// The end of a pipeline whose outputs someone takes (a pipeline block or a stream): a
/// <see cref="TransformManyBlock{TInput, TOutput}"/> that opens the last stage's runs into single items, with
/// <c>BoundedCapacity</c> = the queue size, so that at most that many outputs (and one run) wait to be taken before
/// the last stage is held back.
/// </summary>
/// <typeparam name="T">The type of the outputs.</typeparam>
internal sealed class TailBlock<T> : IRunTarget<T>
{
    private readonly TransformManyBlock<ItemRun<T>, T> _block;
    private StageQueue? _upstream;

    public TailBlock(int queueSize, CancellationToken stop)
    {
        RunLength = new RunLength(queueSize, 1);
        _block = new TransformManyBlock<ItemRun<T>, T>(Open, new ExecutionDataflowBlockOptions { BoundedCapacity = queueSize, CancellationToken = stop });
    }

    /// <summary>Gets the block the outputs are taken from.</summary>
    public TransformManyBlock<ItemRun<T>, T> Block => _block;

    public ITargetBlock<ItemRun<T>> Target => _block;

    public RunLength RunLength { get; }

    public StageQueue? Queue => null;

    public StageQueue? Upstream
    {
        set => _upstream = value;
    }

    private IEnumerable<T> Open(ItemRun<T> run)
    {
        _upstream?.ReleaseBacklog(run.Count);
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
