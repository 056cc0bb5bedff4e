namespace JobQ.Dataflow.Internal;

/// <summary>
/// Where a pipeline's input enters: a <see cref="BufferBlock{T}"/> of runs linked to the first stage's door, which
/// holds the runs waiting for the first stage (jobq's first queue). Whoever feeds it (the input reader, puts, offers to
/// a pipeline block) adds runs only while the first stage's <see cref="StageQueue"/> has room, so it holds at most the
/// queue size in items, plus one run.
/// </summary>
/// <typeparam name="T">The type of the input items.</typeparam>
internal sealed class PipelineHead<T>
{
    private readonly BufferBlock<ItemRun<T>> _buffer;

    public PipelineHead(Stage<T> first, CancellationToken stop)
    {
        First = first;
        _buffer = new BufferBlock<ItemRun<T>>(new DataflowBlockOptions { CancellationToken = stop });
        _buffer.LinkTo(first.Door, new DataflowLinkOptions { PropagateCompletion = true });
    }

    /// <summary>Gets the first stage.</summary>
    public Stage<T> First { get; }

    /// <summary>Gets the first stage's queue: the items handed over (or reserved) that it has not taken yet.</summary>
    public StageQueue Queue => First.Queue;

    /// <summary>Gets how long the runs handed over should be.</summary>
    public RunLength RunLength => First.RunLength;

    /// <summary>
    /// Gets whether the first stage could start a run now and nothing is on its way to it: whoever holds items should
    /// hand them over at once. <paramref name="held"/> is how many of the queue's items the caller holds itself.
    /// </summary>
    public bool IsHungry(int held) => First.Door.IsHungry && Queue.Count == held;

    /// <summary>Hands a run over if the queue has room, counting it; false otherwise.</summary>
    public bool TryPost(ItemRun<T> run)
    {
        if (!Queue.HasRoom)
        {
            return false;
        }

        Queue.Add(run.Count);
        PostCounted(run);
        return true;
    }

    /// <summary>Hands over a run whose items were already counted into <see cref="Queue"/>.</summary>
    public void PostCounted(ItemRun<T> run)
    {
        if (!_buffer.Post(run))
        {
            // The pipeline stopped: the run is dropped with everything else it held.
            run.Return();
        }
    }

    /// <summary>Takes and discards every run still waiting (the pipeline stopped).</summary>
    public void DropAll()
    {
        if (_buffer.TryReceiveAll(out var runs))
        {
            foreach (var run in runs)
            {
                run.Return();
            }
        }
    }

    /// <summary>No more input: the first stage completes once it has taken everything handed over.</summary>
    public void Complete() => _buffer.Complete();
}
