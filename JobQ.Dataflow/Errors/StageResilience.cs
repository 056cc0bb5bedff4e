namespace JobQ.Dataflow.Internal;

/// <summary>
/// A Polly resilience pipeline as the engine holds it. Worker lists, options and stages refer to this type rather
/// than to Polly's, and only <see cref="Wrap{TIn, TOut}"/> touches Polly: a run without resilience never loads the
/// Polly assembly, which a fresh process would otherwise pay for while building its first worker list.
/// </summary>
internal sealed class StageResilience(Polly.ResiliencePipeline pipeline)
{
    public Polly.ResiliencePipeline Pipeline { get; } = pipeline;

    /// <summary>Returns <paramref name="worker"/> with every call run inside the pipeline.</summary>
    public StageWorker<TIn, TOut> Wrap<TIn, TOut>(StageWorker<TIn, TOut> worker, CancellationToken runToken)
        => new ResilientWorker<TIn, TOut>(worker, Pipeline, runToken);
}
