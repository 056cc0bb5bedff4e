using Microsoft.Extensions.Logging;

namespace JobQ.Dataflow.Internal;

/// <summary>What every part of one stage shares: its pipeline, name, options, and a failure reporter that never throws.</summary>
internal sealed class StageContext(PipelineRuntime pipeline, int index, string name)
{
    public PipelineRuntime Pipeline { get; } = pipeline;

    public int Index { get; } = index;

    /// <summary>Gets the metric tags of this stage, made once.</summary>
    public KeyValuePair<string, object?>[] MetricTags { get; } = JobMetrics.StageTags(pipeline.Name, name);

    public string Name { get; } = name;

    public ILogger Logger => Pipeline.Logger;

    public TimeProvider TimeProvider => Pipeline.TimeProvider;

    public CancellationToken Token => Pipeline.Token;

    public int QueueSize => Pipeline.QueueSize;

    /// <summary>The most items one lane takes or passes on at once: small enough that a queue holds several runs.</summary>
    public int MaxRun => Pipeline.MaxRun;

    /// <summary>
    /// Logs a failed item and applies the error policy. Never throws: a logger or handler that throws is logged
    /// (or ignored) so that it cannot stop the stage. Completes synchronously unless an async handler awaits.
    /// </summary>
    public ValueTask HandleFailureAsync(Exception exception, object? item, bool dispatcher)
    {
        try
        {
            if (Logger.IsEnabled(LogLevel.Error))
            {
                if (dispatcher)
                {
                    Log.DispatcherFailed(Logger, Name, item, exception);
                }
                else
                {
                    Log.WorkerFailed(Logger, Name, item, exception);
                }
            }
        }
        catch (Exception)
        {
            // A broken logger must not take the pipeline down with it.
        }

        var policy = Pipeline.ErrorPolicy;
        switch (policy.Kind)
        {
            case ErrorPolicyKind.FailFast:
                Pipeline.FailFast(exception);
                return default;
            case ErrorPolicyKind.Handle:
                return CallHandlerAsync(policy.Handler!, new JobFailure(Name, Index, item, exception));
            default:
                return default;
        }
    }

    private async ValueTask CallHandlerAsync(Func<JobFailure, CancellationToken, ValueTask> handler, JobFailure failure)
    {
        try
        {
            await handler(failure, Token).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            SafeLog(logger => Log.HandlerFailed(logger, Name, failure.Item, exception));
        }
    }

    /// <summary>Runs a logging call, ignoring a logger that throws.</summary>
    public void SafeLog(Action<ILogger> log)
    {
        try
        {
            log(Logger);
        }
        catch (Exception)
        {
            // As above.
        }
    }
}
