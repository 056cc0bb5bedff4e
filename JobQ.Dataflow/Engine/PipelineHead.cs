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

    // Runs handed to _buffer: once the first stage's door has admitted as many, none waits here. Counted rather than
    // read from _buffer.Count, whose lock the buffer holds while offering to the door, which may call the feeder back.
    private long _posted;

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
    /// Gets whether the first stage could start a run now and no run waits here for it: whoever holds items should
    /// hand them over at once. Items the stage has taken but not started (a dispatcher's routed items) do not count:
    /// nothing here would tell the holder when they start.
    /// </summary>
    public bool IsHungry => First.Door.IsHungry && NothingBuffered;

    /// <summary>
    /// The input reader hands a run over if the queue has room, counting it; false otherwise (or once the pipeline
    /// stopped, when the reader's wait for room then ends and it drops the run). While the door has
    /// admitted every run posted before, the run goes straight into it: offered with no source, the door accepts a run
    /// only if it has a place for it now (the runs in progress and the one it may hold ahead) and declines otherwise,
    /// so the run waits in the buffer, in order. That saves the buffer's offer task on every item of a slow or async
    /// stage, and on most runs of a cheap one.
    /// </summary>
    public bool TryPost(ItemRun<T> run)
    {
        // Once stopped, nothing more enters the counts: the run may have returned while the reader was in the input's
        // MoveNext, and what it reported must not grow afterwards.
        if (!Queue.HasRoom || First.Pipeline.Token.IsCancellationRequested)
        {
            return false;
        }

        Count(run.Count);
        var direct = First.Door.CanTakeNow && NothingBuffered;
        Interlocked.Increment(ref _posted);
        if (!direct || !First.Door.Post(run))
        {
            Buffer(run);
        }

        return true;
    }

    /// <summary>
    /// Hands over a run whose items were already counted into <see cref="Queue"/> (puts), always through the buffer:
    /// its offer task starts the stage's work beside the putting thread, which goes on gathering the next run.
    /// </summary>
    public void PostCounted(ItemRun<T> run)
    {
        Interlocked.Increment(ref _posted);
        Buffer(run);
    }

    /// <summary>Counts <paramref name="items"/> handed over into the first stage's queue and into the graph.</summary>
    public void Count(int items)
    {
        Queue.Add(items);
        First.Pipeline.Moved(items);
    }

    /// <summary>
    /// Takes and discards every run still waiting for the first stage. A stopped pipeline keeps them counted in the
    /// stage's queue, as jobq's queues keep their items (<paramref name="uncount"/> false); a fault after completion takes
    /// them out of the graph, as if they had never come in, and the items waiting inside the first stage with them
    /// (<see cref="Stage.DropWaiting"/>).
    /// </summary>
    public void DropWaiting(bool uncount)
    {
        if (uncount)
        {
            First.DropWaiting();
        }

        if (_buffer.TryReceiveAll(out var runs))
        {
            foreach (var run in runs)
            {
                if (uncount)
                {
                    Interlocked.Decrement(ref _posted);
                    Queue.Take(run.Count);
                    First.Pipeline.Moved(-run.Count);
                }

                run.Return();
            }
        }
    }

    /// <summary>Gets whether the door has admitted every run posted: none waits in the buffer.</summary>
    private bool NothingBuffered => First.Door.Admitted == Volatile.Read(ref _posted);

    /// <summary>No more input: the first stage completes once it has taken everything handed over.</summary>
    public void Complete() => _buffer.Complete();

    private void Buffer(ItemRun<T> run)
    {
        if (!_buffer.Post(run))
        {
            // The pipeline stopped: the run is dropped with everything else it held.
            run.Return();
        }
    }
}
