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
    /// <summary>The default capacity of every queue between stages: 1024 items, as in jobq.</summary>
    public const int DefaultQueueSize = 1024;

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
    public TimeSpan? Timeout { get; set; }

    /// <summary>Gets or sets the capacity, in items, of each stage's input queue. Default <see cref="DefaultQueueSize"/> (1024).</summary>
    public int QueueSize { get; set; } = DefaultQueueSize;

    /// <summary>Gets or sets the probe the run writes its statistics into (jobq's <c>probe</c>). Default <see langword="null"/>.</summary>
    public Probe? Probe { get; set; }

    /// <summary>
    /// Gets or sets the logger for worker failures, speed reports and resizes. Default <see langword="null"/>:
    /// nothing is logged (<see cref="NullLogger.Instance"/>).
    /// </summary>
    public ILogger? Logger { get; set; }

    /// <summary>
    /// Gets or sets the clock used for the timeout and for speed limits. Default <see langword="null"/>:
    /// <see cref="System.TimeProvider.System"/>. Tests pass a fake clock here.
    /// </summary>
    public TimeProvider? TimeProvider { get; set; }

    /// <summary>
    /// Gets or sets the pipeline's name: the <c>jobq.pipeline</c> tag of the metrics of the <c>JobQ.Dataflow</c>
    /// meter. Default <see langword="null"/>: <c>pipeline</c>.
    /// </summary>
    public string? Name { get; set; }

    internal JobOptions Validated(string paramName)
    {
        if (QueueSize <= 0)
        {
            throw new ArgumentOutOfRangeException(paramName, QueueSize, $"{nameof(QueueSize)} must be positive; it was {QueueSize}.");
        }

        if (Timeout is { } timeout && timeout < TimeSpan.Zero && timeout != System.Threading.Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(paramName, timeout, $"{nameof(Timeout)} must be non-negative or null; it was {timeout}.");
        }

        return new JobOptions
        {
            KeepOrder = KeepOrder,
            Timeout = Timeout == System.Threading.Timeout.InfiniteTimeSpan ? null : Timeout,
            QueueSize = QueueSize,
            Probe = Probe,
            Logger = Logger ?? NullLogger.Instance,
            TimeProvider = TimeProvider ?? TimeProvider.System,
            Name = Name,
        };
    }
}
