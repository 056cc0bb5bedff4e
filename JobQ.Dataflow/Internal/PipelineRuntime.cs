using Microsoft.Extensions.Logging;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// A built, running pipeline whatever its types: its stages, its stop signal, and the bookkeeping that tells
/// when it is finished.
/// </summary>
/// <remarks>
/// <para>Finished means either every stage completed (all input processed), or the pipeline was stopped and every
/// loop still alive is inside user code (a worker call or the input's <c>MoveNext</c>) that cannot be
/// interrupted; such a loop exits as soon as the call returns, passing nothing on.</para>
/// <para><see cref="_live"/> counts running loops (lanes, routers, mergers, the feeder).</para>
/// </remarks>
internal sealed class PipelineRuntime
{
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _live;
    private int _stopReason;
    private int _inputInUserCode;
    private readonly IProgress<JobStats>? _progress;
    private readonly TimeSpan _progressInterval;
    private Exception? _fault;
    private int _progressFailed;
    private int _finishing;
    private ITimer? _progressTimer;
    private readonly JobOptions _options;

    public PipelineRuntime(JobOptions validatedOptions)
    {
        _options = validatedOptions;
        TimeProvider = validatedOptions.TimeProvider!;
        QueueSize = validatedOptions.QueueSize;
        KeepOrder = validatedOptions.KeepOrder;
        Name = validatedOptions.Name ?? "pipeline";
        ErrorPolicy = validatedOptions.ErrorPolicy!;
        _progress = validatedOptions.Progress;
        _progressInterval = validatedOptions.ProgressInterval;
    }

    public ErrorPolicy ErrorPolicy { get; }

    /// <summary>Gets the pipeline's name, the <c>jobq.pipeline</c> tag of its metrics.</summary>
    public string Name { get; }

    /// <summary>Gets the run's logger: the validated options' (standard error when none was given).</summary>
    /// <remarks>Read on first use only: a run that logs nothing then never loads the logging assembly (see <see cref="JobOptions.Logger"/>).</remarks>
    public ILogger Logger => _options.Logger!;

    public TimeProvider TimeProvider { get; }

    public int QueueSize { get; }

    /// <summary>The most items moved at once between two queues: small enough that a queue holds several runs.</summary>
    public int MaxRun => Math.Clamp(QueueSize / 4, 1, 256);

    public bool KeepOrder { get; }

    public StageRuntime[] Stages { get; set; } = [];

    /// <summary>Gets or sets an extra action run on stop, such as aborting the collected output queue.</summary>
    public Action? OnStop { get; set; }

    public CancellationToken Token => _stop.Token;

    /// <summary>Completes when the pipeline is finished (see the class remarks); never faults.</summary>
    public Task Finished => _finished.Task;

    public StopReason StopReason => (StopReason)Volatile.Read(ref _stopReason);

    public Exception? Fault => Volatile.Read(ref _fault);

    public void Start()
    {
        JobMetrics.Register(this);
        foreach (var stage in Stages)
        {
            stage.Start();
        }

        if (_progress is not null)
        {
            _progressTimer = TimeProvider.CreateTimer(static state => ((PipelineRuntime)state!).ReportProgress(), this, _progressInterval, _progressInterval);
        }

        // Only now, with every loop started: in a fresh process, creating the meter would otherwise compete with them.
        JobMetrics.EnsureCreated();
    }

    /// <summary>Starts the run's timeout (jobq's <c>timeout</c>) on the run's clock; null when there is none.</summary>
    public ITimer? StartTimeout(TimeSpan? timeout)
        => timeout is { } due
            ? TimeProvider.CreateTimer(static state => ((PipelineRuntime)state!).Stop(StopReason.Timeout), this, due, Timeout.InfiniteTimeSpan)
            : null;

    /// <summary>Stops the pipeline unless it already finished or stopped: no worker takes a new item, nothing more is passed on.</summary>
    /// <returns>Whether this call stopped it.</returns>
    public bool Stop(StopReason reason)
    {
        if (Volatile.Read(ref _finishing) != 0 || Interlocked.CompareExchange(ref _stopReason, (int)reason, 0) != 0)
        {
            return false;
        }

        _stop.Cancel();
        foreach (var stage in Stages)
        {
            stage.Abort();
        }

        OnStop?.Invoke();
        CheckQuiescent();
        return true;
    }

    /// <summary>Records an internal failure (a bug, never a worker's exception) and stops the run, which then rethrows it.</summary>
    public void Fail(Exception exception, StageContext? stage)
    {
        Interlocked.CompareExchange(ref _fault, exception, null);
        try
        {
            Log.InternalFailure(Logger, stage?.Name ?? "(input)", exception);
        }
        catch (Exception)
        {
            // A broken logger must not hide the failure, which the run rethrows.
        }

        Stop(StopReason.Faulted);
    }

    /// <summary>
    /// Stops the run with a fault it reports (a run rethrows it, a block's Completion carries it): a worker failure the
    /// error policy calls fatal, or a pipeline block faulted from outside.
    /// </summary>
    public void FailFast(Exception exception)
    {
        Interlocked.CompareExchange(ref _fault, exception, null);
        Stop(StopReason.Faulted);
    }

    public void LoopStarted() => Interlocked.Increment(ref _live);

    public void LoopExited()
    {
        if (Interlocked.Decrement(ref _live) == 0 && AllStagesCompleted())
        {
            // The last loop out finishes the run itself. A stage completes only on its own last loop's way out, before
            // that loop's LoopExited, so the loop that brings the count to zero sees every completion. (A continuation
            // on the stage completions would instead hop through the thread pool, which in a fresh process means
            // starting the pool at the very end of the run.)
            SetFinished();
        }
        else if (_stop.IsCancellationRequested)
        {
            CheckQuiescent();
        }
    }

    /// <summary>Marks whether the input's enumerator is running user code; written by the feeder only.</summary>
    public void SetInputInUserCode(bool value) => Volatile.Write(ref _inputInUserCode, value ? 1 : 0);

    public JobStats Snapshot()
    {
        var stages = new StageStats[Stages.Length];
        for (var i = 0; i < stages.Length; i++)
        {
            stages[i] = Stages[i].Snapshot();
        }

        return new JobStats(stages);
    }

    private void ReportProgress()
    {
        try
        {
            _progress!.Report(Snapshot());
        }
        catch (Exception exception)
        {
            if (Interlocked.Exchange(ref _progressFailed, 1) == 0)
            {
                try
                {
                    Log.ProgressFailed(Logger, exception);
                }
                catch (Exception)
                {
                    // A broken logger must not stop the run either.
                }
            }
        }
    }

    private bool AllStagesCompleted()
    {
        foreach (var stage in Stages)
        {
            if (!stage.IsCompleted)
            {
                return false;
            }
        }

        return true;
    }

    private void CheckQuiescent()
    {
        long inUserCode = Volatile.Read(ref _inputInUserCode);
        foreach (var stage in Stages)
        {
            inUserCode += stage.Doing;
        }

        if (Volatile.Read(ref _live) <= inUserCode)
        {
            SetFinished();
        }
    }

    /// <summary>Ends the run once: the last progress report and the metrics' farewell come before anyone sees it finished.</summary>
    private void SetFinished()
    {
        if (Interlocked.Exchange(ref _finishing, 1) != 0)
        {
            return;
        }

        if (_progress is not null)
        {
            _progressTimer?.Dispose();
            ReportProgress();
        }

        JobMetrics.Unregister(this);
        _finished.TrySetResult();
    }
}
