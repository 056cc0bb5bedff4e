namespace JobQ.Dataflow.Internal;

/// <summary>
/// Builds a worker list into its Dataflow graph: a <see cref="PipelineHead{T}"/>, one stage per entry, each stage's
/// block linked to the next stage's door with <c>PropagateCompletion</c>, the last one to a <see cref="TailBlock{T}"/>
/// or to nothing.
/// </summary>
internal static class PipelineBuilder
{
    /// <summary>Validates a worker list and options at the public door, before any work starts.</summary>
    public static JobOptions Validate<TIn, TOut>(Workers<TIn, TOut> workers, JobOptions? options, string workersParam, string optionsParam)
    {
        ArgumentNullException.ThrowIfNull(workers, workersParam);
        if (workers.Count == 0)
        {
            throw new ArgumentException("The worker list has no stage; add at least one with Then or ThenMany.", workersParam);
        }

        return (options ?? new JobOptions()).Validated(optionsParam);
    }

    /// <summary>Builds the graph of <paramref name="workers"/>.</summary>
    /// <param name="workers">The worker list.</param>
    /// <param name="options">The validated options.</param>
    /// <param name="resizable">Whether stages can be resized (a <c>JobManager</c>).</param>
    /// <param name="tail">Whether the outputs are taken (a block or a stream) rather than discarded (a run).</param>
    public static Built<TIn, TOut> Build<TIn, TOut>(Workers<TIn, TOut> workers, JobOptions options, bool resizable, bool tail)
    {
        var pipeline = new Pipeline(options);
        var specs = workers.Stages;
        var stages = new Stage[specs.Length];
        for (var i = 0; i < specs.Length; i++)
        {
            var spec = options.StageResilience is { } resilience && !specs[i].HasResilience && specs[i].UserDelegate is not null
                ? specs[i].WithResilience(resilience)
                : specs[i];
            stages[i] = spec.Create(pipeline, i, resizable);
        }

        for (var i = 0; i < stages.Length - 1; i++)
        {
            stages[i].ConnectToNext(stages[i + 1]);
        }

        var tailBlock = tail ? new TailBlock<TOut>(options.QueueSize, pipeline.Token) : null;
        ((IStageOutput<TOut>)stages[^1]).ConnectTo(tailBlock);
        pipeline.Stages = stages;
        var head = new PipelineHead<TIn>((Stage<TIn>)stages[0], pipeline.Token);
        pipeline.DropOutputs = () =>
        {
            head.DropWaiting(uncount: false);
            foreach (var stage in stages)
            {
                stage.DropOutputs();
            }

            tailBlock?.DropAll();
        };
        return new Built<TIn, TOut>(pipeline, head, tailBlock);
    }
}

/// <summary>A built graph: its pipeline, its head (where input goes) and its tail, if the outputs are taken.</summary>
internal sealed record Built<TIn, TOut>(Pipeline Pipeline, PipelineHead<TIn> Head, TailBlock<TOut>? Tail)
{
    /// <summary>Gets the block whose completion finishes the run: the tail, or the last stage's block.</summary>
    public Task LastCompletion => Tail?.Block.Completion ?? Pipeline.Stages[^1].Completion;
}
