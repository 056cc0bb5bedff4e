using Microsoft.Extensions.Logging;

namespace JobQ.Dataflow.Internal;

/// <summary>What every part of one stage shares: its pipeline, name, options, and a failure reporter that never throws.</summary>
internal sealed class StageContext(PipelineRuntime pipeline, int index, string name)
{
    public PipelineRuntime Pipeline { get; } = pipeline;

    public int Index { get; } = index;

    public string Name { get; } = name;

    public ILogger Logger => Pipeline.Logger;

    public TimeProvider TimeProvider => Pipeline.TimeProvider;

    public CancellationToken Token => Pipeline.Token;

    public int QueueSize => Pipeline.QueueSize;

    /// <summary>The most items one lane takes or passes on at once: small enough that a queue holds several runs.</summary>
    public int MaxRun => Math.Clamp(QueueSize / 4, 1, 256);

    /// <summary>Logs a worker failure; a logger that throws is ignored so that it cannot stop the stage.</summary>
    public void ReportWorkerFailure(Exception exception, object? item)
    {
        try
        {
            if (Logger.IsEnabled(LogLevel.Error))
            {
                Log.WorkerFailed(Logger, Name, item, exception);
            }
        }
        catch (Exception)
        {
            // A broken logger must not take the pipeline down with it.
        }
    }

    /// <summary>Logs a dispatcher failure; see <see cref="ReportWorkerFailure"/>.</summary>
    public void ReportDispatcherFailure(Exception exception, object? item)
    {
        try
        {
            if (Logger.IsEnabled(LogLevel.Error))
            {
                Log.DispatcherFailed(Logger, Name, item, exception);
            }
        }
        catch (Exception)
        {
            // As above.
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
