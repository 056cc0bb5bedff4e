namespace JobQ.Dataflow.Internal;

/// <summary>A typed handle on a built pipeline: where its input goes in and, optionally, where its outputs come out.</summary>
internal sealed class Pipeline<TIn, TOut>
{
    private Pipeline(PipelineRuntime runtime, ItemQueue<TIn> input, ItemQueue<TOut>? output)
    {
        Runtime = runtime;
        Input = input;
        Output = output;
    }

    public PipelineRuntime Runtime { get; }

    public ItemQueue<TIn> Input { get; }

    public ItemQueue<TOut>? Output { get; }

    /// <summary>Builds every stage, last first, so that each writes into the next one's input queue, and attaches the probe.</summary>
    public static Pipeline<TIn, TOut> Build(Workers<TIn, TOut> workers, JobOptions validatedOptions, bool collectOutput)
    {
        var runtime = new PipelineRuntime(validatedOptions);
        var output = collectOutput ? new ItemQueue<TOut>(validatedOptions.QueueSize) : null;
        var specs = workers.Stages;
        var stages = new StageRuntime[specs.Length];
        object? next = output;
        for (var i = specs.Length - 1; i >= 0; i--)
        {
            var spec = validatedOptions.StageResilience is { } resilience && !specs[i].HasResilience && specs[i].UserDelegate is not null
                ? specs[i].WithResilience(resilience)
                : specs[i];
            stages[i] = spec.Create(runtime, i, next);
            stages[i].UserDelegate = specs[i].UserDelegate;
            next = stages[i].InputQueue;
        }

        runtime.Stages = stages;
        if (output is not null)
        {
            runtime.OnStop = () => output.Abort();
        }

        validatedOptions.Probe?.Attach(runtime);
        return new Pipeline<TIn, TOut>(runtime, (ItemQueue<TIn>)next!, output);
    }

    /// <summary>
    /// Starts a run that reads an input: the input reader first (it compiles and reads while the lanes start, so the
    /// first item waits in the queue for the first lane rather than the other way round), then every stage.
    /// </summary>
    /// <returns>The input reader, whose <see cref="Feeder{T}.Error"/> the run rethrows.</returns>
    public Feeder<TIn> Start(Func<ItemQueue<TIn>, PipelineRuntime, Feeder<TIn>> startFeeder)
    {
        var feeder = startFeeder(Input, Runtime);
        Runtime.Start();
        return feeder;
    }

    /// <summary>Validates a worker list and options at the public door, before any work starts.</summary>
    public static JobOptions Validate(Workers<TIn, TOut> workers, JobOptions? options, string workersParam, string optionsParam)
    {
        ArgumentNullException.ThrowIfNull(workers, workersParam);
        if (workers.Count == 0)
        {
            throw new ArgumentException("The worker list has no stage; add at least one with Then or ThenMany.", workersParam);
        }

        return (options ?? new JobOptions()).Validated(optionsParam);
    }
}
