using Microsoft.Extensions.Logging;

namespace JobQ.Dataflow.Internal;

/// <summary>Every log line the library writes, source-generated so that nothing is formatted when the level is off.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "Worker of stage '{Stage}' failed on item {Item}.")]
    public static partial void WorkerFailed(ILogger logger, string stage, object? item, Exception exception);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "Dispatcher of stage '{Stage}' failed on item {Item}.")]
    public static partial void DispatcherFailed(ILogger logger, string stage, object? item, Exception exception);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "The input sequence failed; the run stops reading input, lets the items in flight finish, and rethrows.")]
    public static partial void InputFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Stage '{Stage}': {Speed:F1} units/s over the last {Seconds:F2} s (limit {Limit} units/s).")]
    public static partial void SpeedReport(ILogger logger, string stage, double speed, double seconds, double limit);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "Stage '{Stage}' resized from {From} to {To} workers.")]
    public static partial void Resized(ILogger logger, string stage, int from, int to);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Speed limit of stage '{Stage}' gave {Value} units/s, which is not a positive number; {Kept} stays in force.")]
    public static partial void BadSpeed(ILogger logger, string stage, double value, string kept);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "Speed limit function of stage '{Stage}' threw; {Kept} stays in force.")]
    public static partial void SpeedFunctionFailed(ILogger logger, string stage, string kept, Exception exception);

    [LoggerMessage(EventId = 9, Level = LogLevel.Error, Message = "The error handler of stage '{Stage}' failed on item {Item}; the item stays failed and the run goes on.")]
    public static partial void HandlerFailed(ILogger logger, string stage, object? item, Exception exception);

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "The progress receiver threw; this is logged once and the run goes on.")]
    public static partial void ProgressFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 8, Level = LogLevel.Critical, Message = "Internal failure of a pipeline block; the run stops.")]
    public static partial void InternalFailure(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "Speed limit of stage '{Stage}' gave {Speed} units/s at {JobStep} units per item, so an item would wait longer than a timer can; each item waits {Wait} instead (logged once).")]
    public static partial void SpeedClamped(ILogger logger, string stage, double speed, int jobStep, TimeSpan wait);

    [LoggerMessage(EventId = 12, Level = LogLevel.Warning, Message = "The job manager was disposed with {Count} items not processed (queued or in a call); they are dropped. Call Join before Dispose to wait for them.")]
    public static partial void DisposedUnfinished(ILogger logger, long count);
}
