using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace JobQ.Dataflow;

/// <summary>Options of a run or a <see cref="JobManager{TIn, TOut}"/>: jobq's keyword arguments and the .NET extras.</summary>
/// <remarks>
/// A run copies the options when it starts, so changing this object afterwards does not affect a run in progress.
/// Values are validated when the run starts, with an <see cref="ArgumentException"/> naming the option.
/// </remarks>
public sealed class JobOptions
{
    // The logger given, and whether this is a validated copy whose Logger falls back to standard error. The fallback is
    // resolved when Logger is read, not when the options are validated, and the field is typed object so that Validated
    // can test it without naming ILogger: a run that logs nothing then never loads the logging assembly, which a fresh
    // process would pay for before its first worker call.
    private object? _logger;
    private bool _logsToStandardError;

    /// <summary>The default capacity of every queue between stages: 1024 items, as in jobq.</summary>
    public const int DefaultQueueSize = 1024;

    /// <summary>
    /// The most workers a stage may have: 10,000. It bounds a stage's <c>threads</c> (the number of partitions, with a
    /// dispatcher) and the count given to <see cref="JobManager{TIn, TOut}.SetThreadNum(Delegate, int)"/>; a larger
    /// value is refused with an <see cref="ArgumentOutOfRangeException"/> naming the stage.
    /// </summary>
    public const int MaxThreads = 10_000;

    /// <summary>
    /// The longest delay a timer can wait: <see cref="uint.MaxValue"/> - 1 milliseconds, about 49.7 days. A timeout at or
    /// above it means no timeout; a longer progress interval or speed-limit wait is refused.
    /// </summary>
    internal static readonly TimeSpan MaxTimerDelay = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>
    /// Gets or sets whether every stage passes its outputs on in the order its inputs arrived (jobq's
    /// <c>keep_order</c>). Default <see langword="false"/>: outputs leave a stage in completion order.
    /// </summary>
    public bool KeepOrder { get; set; }

    /// <summary>
    /// Gets or sets the longest the run may take (jobq's <c>timeout</c>). Default <see langword="null"/>: wait
    /// until every item is processed. When it passes, workers take no new item, each finishes the call it is in,
    /// and nothing more is passed to a next stage.
    /// </summary>
    /// <remarks>
    /// <see cref="System.Threading.Timeout.InfiniteTimeSpan"/>, and any value at or above the longest delay a timer can
    /// wait (<see cref="uint.MaxValue"/> - 1 milliseconds, about 49.7 days, so <see cref="TimeSpan.MaxValue"/> too), mean
    /// no timeout, as <see langword="null"/> does. Another negative value is refused when the run starts.
    /// </remarks>
    public TimeSpan? Timeout { get; set; }

    /// <summary>Gets or sets the capacity, in items, of each stage's input queue. Default <see cref="DefaultQueueSize"/> (1024).</summary>
    public int QueueSize { get; set; } = DefaultQueueSize;

    /// <summary>Gets or sets the probe the run writes its statistics into (jobq's <c>probe</c>). Default <see langword="null"/>.</summary>
    public Probe? Probe { get; set; }

    /// <summary>
    /// Gets or sets the logger for worker failures, speed reports and resizes. Default <see langword="null"/>: entries
    /// at <see cref="LogLevel.Warning"/> and above (a worker's failure, with the stage's name and the exception) are
    /// written to <see cref="Console.Error"/>, one entry per write, as jobq's failures reach standard error through
    /// Python's logging; Information entries are not written. Set <see cref="NullLogger.Instance"/> to log nothing.
    /// </summary>
    public ILogger? Logger
    {
        get => (ILogger?)_logger ?? (_logsToStandardError ? Internal.StandardErrorLogger.Instance : null);
        set => _logger = value;
    }

    /// <summary>
    /// Gets or sets the clock used for the timeout, speed limits and progress snapshots. Default <see langword="null"/>:
    /// <see cref="System.TimeProvider.System"/>. Tests pass a fake clock here.
    /// </summary>
    public TimeProvider? TimeProvider { get; set; }

    /// <summary>
    /// Gets or sets the pipeline's name: the <c>jobq.pipeline</c> tag of the metrics of the <c>JobQ.Dataflow</c>
    /// meter. Default <see langword="null"/>: <c>pipeline</c>.
    /// </summary>
    public string? Name { get; set; }

    /// <summary>
    /// Gets or sets what happens to an item whose worker fails. Default <see langword="null"/>:
    /// <see cref="Dataflow.ErrorPolicy.LogAndDrop"/>, as in jobq.
    /// </summary>
    public ErrorPolicy? ErrorPolicy { get; set; }

    /// <summary>
    /// Gets or sets a Polly resilience pipeline that wraps every worker call of every stage that has none of its own
    /// (see <see cref="Workers{TIn, TOut}.WithResilience"/>). Default <see langword="null"/>: calls are not wrapped.
    /// </summary>
    public Polly.ResiliencePipeline? Resilience
    {
        get => StageResilience?.Pipeline;
        set => StageResilience = value is null ? null : new Internal.StageResilience(value);
    }

    /// <summary>Gets <see cref="Resilience"/> as the engine holds it; the engine reads this, so that a run without
    /// resilience never loads Polly.</summary>
    internal Internal.StageResilience? StageResilience { get; private set; }

    /// <summary>
    /// Gets or sets a receiver of <see cref="JobStats"/> snapshots, sent every <see cref="ProgressInterval"/> while the
    /// run goes on and once when it ends, for progress bars. Default <see langword="null"/>. A receiver that throws is
    /// logged once and otherwise ignored.
    /// </summary>
    public IProgress<JobStats>? Progress { get; set; }

    /// <summary>
    /// Gets or sets how often <see cref="Progress"/> receives a snapshot. Default 1 second; must be at least 1 millisecond and at most the
    /// longest delay a timer can wait (<see cref="uint.MaxValue"/> - 1 milliseconds, about 49.7 days).
    /// </summary>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Rejects a negative timeout other than <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> (which means none).</summary>
    internal static void ThrowIfInvalidTimeout(TimeSpan? timeout, string paramName, string what)
    {
        if (timeout is { } t && t < TimeSpan.Zero && t != System.Threading.Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(paramName, t, $"{what} must be non-negative or null; it was {t}.");
        }
    }

    /// <summary>
    /// Returns the timeout to apply, once <see cref="ThrowIfInvalidTimeout"/> has accepted it: <see langword="null"/> (none) for
    /// <see langword="null"/>, <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> and any value at or above
    /// <see cref="MaxTimerDelay"/> (no timer could wait that long); otherwise the value.
    /// </summary>
    internal static TimeSpan? NormalizeTimeout(TimeSpan? timeout)
        => timeout is { } t && t != System.Threading.Timeout.InfiniteTimeSpan && t < MaxTimerDelay ? t : null;

    internal JobOptions Validated(string paramName)
    {
        if (QueueSize <= 0)
        {
            throw new ArgumentOutOfRangeException(paramName, QueueSize, $"{nameof(QueueSize)} must be positive; it was {QueueSize}.");
        }

        ThrowIfInvalidTimeout(Timeout, paramName, nameof(Timeout));

        if (ProgressInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(paramName, ProgressInterval, $"{nameof(ProgressInterval)} must be positive; it was {ProgressInterval}.");
        }

        // System timers count whole milliseconds: a shorter period would become 0, which fires once.
        if (ProgressInterval < TimeSpan.FromMilliseconds(1))
        {
            throw new ArgumentOutOfRangeException(paramName, ProgressInterval, $"{nameof(ProgressInterval)} must be at least 1 ms (timers count whole milliseconds); it was {ProgressInterval}.");
        }

        if (ProgressInterval > MaxTimerDelay)
        {
            throw new ArgumentOutOfRangeException(
                paramName,
                ProgressInterval,
                $"{nameof(ProgressInterval)} must be at most {MaxTimerDelay} (the longest a timer can wait, about 49.7 days); it was {ProgressInterval}.");
        }

        // A field-by-field copy, so that this method names no option of another assembly's type: compiling it then
        // loads neither the logging abstractions nor Polly, which a run that uses neither need not pay for. The copy's
        // Logger is never null: the one given, or the standard-error logger (resolved when first read).
        var copy = (JobOptions)MemberwiseClone();
        copy.Timeout = NormalizeTimeout(Timeout);
        copy._logsToStandardError = _logger is null;
        copy.TimeProvider = TimeProvider ?? TimeProvider.System;
        copy.ErrorPolicy = ErrorPolicy ?? Dataflow.ErrorPolicy.LogAndDrop;
        return copy;
    }
}
