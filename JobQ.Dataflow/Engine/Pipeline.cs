using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// One built pipeline, whatever its types: its stages (each a Dataflow block behind a <see cref="StageDoor{T}"/>),
/// the stop signal they all share, the error policy, and the bookkeeping that tells when the pipeline is finished.
/// </summary>
/// <remarks>
/// <para>Finished means either that the last block completed (every input processed), or that the pipeline was
/// stopped (timeout, cancellation, disposal, a fail-fast failure) and nothing of ours runs any more except user code
/// that cannot be interrupted: a worker call, a dispatcher call or the input's <c>MoveNext</c>. Such a call returns
/// later, passes nothing on, and its block then completes.</para>
/// <para>Stopping cancels <see cref="Token"/>, which every block has as its
/// <see cref="DataflowBlockOptions.CancellationToken"/> and every async worker receives: blocks decline offers and
/// drop what they hold, no call starts, and calls in progress have their outputs discarded.</para>
/// </remarks>
internal sealed class Pipeline
{
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly IProgress<JobStats>? _progress;

    // Every exception that faulted the pipeline, in order; guarded by itself.
    private readonly List<Exception> _faults = [];
    private ITimer? _progressTimer;
    private int _stopReason;
    private int _finishing;

    // 1 once a stop signal (a timeout, Join's timeout, a cancellation, Dispose) came after every item went through: the
    // run no longer waits for the last progress report, which a receiver that blocks would hold up for good.
    private int _finalReportAbandoned;
    private int _progressFailed;

    // 1 while a snapshot is in the progress receiver: a tick that finds one there skips, rather than hold another
    // thread in a receiver that is slow or never returns.
    private int _reporting;

    // Items passed into the graph that it has not finished with: added when the input hands them over, changed by
    // outputs minus inputs when a run ends. One number for the whole graph, so that it can be read at one moment.
    private long _unfinished;
    private volatile bool _inputClosed;
    // The input reader's state: 0 none or done, 1 running our code, 2 inside the input's MoveNext. Written by the
    // reader alone, with plain volatile writes, since it changes twice per item.
    private volatile int _input;

    public Pipeline(JobOptions validatedOptions)
    {
        Options = validatedOptions;
        Logger = validatedOptions.Logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        TimeProvider = validatedOptions.TimeProvider!;
        ErrorPolicy = validatedOptions.ErrorPolicy!;
        Name = validatedOptions.Name ?? "pipeline";
        _progress = validatedOptions.Progress;
        Created = TimeProvider.GetTimestamp();
    }

    /// <summary>Gets when the pipeline was made, on its clock: where a run's timeout starts, as jobq's runs from the call.</summary>
    public long Created { get; }

    public JobOptions Options { get; }

    public ILogger Logger { get; }

    public TimeProvider TimeProvider { get; }

    public ErrorPolicy ErrorPolicy { get; }

    /// <summary>Gets the pipeline's name, the <c>jobq.pipeline</c> tag of its metrics.</summary>
    public string Name { get; }

    public int QueueSize => Options.QueueSize;

    public bool KeepOrder => Options.KeepOrder;

    public Stage[] Stages { get; set; } = [];

    /// <summary>
    /// Gets or sets what drops the outputs the blocks hold when the pipeline stops. A cancelled Dataflow block whose
    /// input side had already completed keeps its buffered outputs, and so never completes, until one is taken; taking
    /// them all lets every block complete.
    /// </summary>
    public Action? DropOutputs { get; set; }

    /// <summary>Gets the token every block and async worker shares; cancelled when the pipeline stops.</summary>
    public CancellationToken Token => _stop.Token;

    /// <summary>Completes when the pipeline is finished (see the class remarks); never faults.</summary>
    public Task Finished => _finished.Task;

    public bool IsStopped => Volatile.Read(ref _stopReason) != (int)StopReason.None;

    public StopReason StopReason => (StopReason)Volatile.Read(ref _stopReason);

    /// <summary>Gets the exception that stopped the pipeline: a fail-fast worker failure, a block faulted from outside, or a bug of ours.</summary>
    public Exception? Fault
    {
        get
        {
            lock (_faults)
            {
                return _faults.Count > 0 ? _faults[0] : null;
            }
        }
    }

    /// <summary>
    /// Gets every exception that faulted the pipeline, the first (<see cref="Fault"/>) first: a block faults with them
    /// all, as a Dataflow block keeps each exception raised until it completes.
    /// </summary>
    public IReadOnlyList<Exception> Faults
    {
        get
        {
            lock (_faults)
            {
                return [.. _faults];
            }
        }
    }

    /// <summary>Registers the pipeline for metrics and progress, and watches its blocks: <paramref name="last"/> completing finishes the run.</summary>
    /// <param name="last">The completion of the pipeline's last block.</param>
    /// <param name="lastFaultsFromOutside">Whether the last block can fault for a reason of the user's (a pipeline block's tail, when a
    /// target linked to it throws); otherwise its fault is a bug of ours.</param>
    public void Start(Task last, bool lastFaultsFromOutside = false)
    {
        Options.Probe?.Attach(this);
        JobMetrics.Register(this);
        foreach (var stage in Stages)
        {
            foreach (var block in stage.Blocks)
            {
                Watch(block);
            }
        }

        last.ContinueWith(
            (completion, state) =>
            {
                var pipeline = (Pipeline)state!;
                if (completion.IsFaulted)
                {
                    // Stopped before it counts as finished, so that the blocks still holding outputs are cancelled.
                    pipeline.Fail(completion.Exception!.InnerException!, internalFailure: !lastFaultsFromOutside);
                }

                pipeline.SetFinished();
            },
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);

        if (_progress is not null)
        {
            var interval = Options.ProgressInterval;
            _progressTimer = CreateTimer(static state => ((Pipeline)state!).ReportTick(), interval, interval);
        }
    }

    /// <summary>
    /// Watches a block of the graph (one made after <see cref="Start"/> too, such as a dispatcher's partition): its
    /// fault is a bug of ours, or of Dataflow's, and stops the run rather than leaving the items it held unaccounted.
    /// </summary>
    public void Watch(IDataflowBlock block)
        => block.Completion.ContinueWith(
            static (completion, state) => ((Pipeline)state!).Fail(completion.Exception!.InnerException!, internalFailure: true),
            this,
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);

    /// <summary>
    /// Starts the run's timeout (jobq's <c>timeout</c>) on the run's clock, counted from <paramref name="since"/> (a
    /// timestamp of that clock; now when null), so that building the pipeline takes from it; null when there is none.
    /// </summary>
    public ITimer? StartTimeout(TimeSpan? timeout, long? since = null)
    {
        if (timeout is not { } due)
        {
            return null;
        }

        if (since is { } start)
        {
            TimeSpan elapsed;
            try
            {
                elapsed = TimeProvider.GetElapsedTime(start);
            }
            catch (Exception exception)
            {
                // The clock is the user's, as in CreateTimer: the run is already under way, so it stops with the fault.
                Fail(exception);
                return null;
            }

            var left = due - elapsed;
            due = left > TimeSpan.Zero ? left : TimeSpan.Zero;
        }

        return CreateTimer(static state => ((Pipeline)state!).TimeoutPassed(), due, Timeout.InfiniteTimeSpan);
    }

    /// <summary>
    /// Creates a timer of the run's clock. The clock is the user's: one that throws stops the run with that exception
    /// (the run rethrows it once stopped) rather than leave it going with no one to stop it.
    /// </summary>
    private ITimer? CreateTimer(TimerCallback callback, TimeSpan due, TimeSpan period)
    {
        try
        {
            return TimeProvider.CreateTimer(callback, this, due, period)
                ?? throw new InvalidOperationException($"The run's TimeProvider ({TimeProvider.GetType().Name}) returned no timer from CreateTimer.");
        }
        catch (Exception exception)
        {
            Fail(exception);
            return null;
        }
    }

    /// <summary>Disposes a timer of the run's clock. The clock is the user's, as in CreateTimer: a timer whose disposal
    /// throws fails the run with that exception, which the run rethrows, rather than end a thread or the wait for the run.</summary>
    public void DisposeTimer(ITimer? timer)
    {
        try
        {
            timer?.Dispose();
        }
        catch (Exception exception)
        {
            Fail(exception);
        }
    }

    /// <summary>
    /// Counts items into or out of the graph: <paramref name="items"/> handed over by the input (positive), or a run's
    /// outputs passed on minus its inputs when it ends.
    /// </summary>
    public void Moved(long items) => Interlocked.Add(ref _unfinished, items);

    /// <summary>
    /// Gets the items put or read into the pipeline that it has not finished with, gathered ones included. Read in this
    /// order: a put's gathered items are counted in before they stop being pending, so none is missed (one may count
    /// twice for a moment).
    /// </summary>
    public long Unfinished
    {
        get
        {
            var pending = Stages.Length > 0 ? Stages[0].Queue.Pending : 0;
            return pending + Interlocked.Read(ref _unfinished);
        }
    }

    /// <summary>No more items will be handed over: the input was read to its end, or a join closed the puts.</summary>
    public void CloseInput() => _inputClosed = true;

    /// <summary>Stops the pipeline unless it already finished or stopped.</summary>
    /// <returns>Whether this call stopped it.</returns>
    public bool Stop(StopReason reason)
    {
        if (Volatile.Read(ref _finishing) != 0)
        {
            AbandonFinalReport();
            return false;
        }

        if (Interlocked.CompareExchange(ref _stopReason, (int)reason, 0) != 0)
        {
            return false;
        }

        foreach (var stage in Stages)
        {
            stage.Cancel();
        }

        _stop.Cancel();
        DropOutputs?.Invoke();
        CheckQuiescent();
        return true;
    }

    /// <summary>
    /// Stops the pipeline with a fault that the run rethrows and a block's Completion carries: a worker failure under
    /// <see cref="ErrorPolicy.FailFast"/>, a block faulted from outside, or (<paramref name="internalFailure"/>) a bug of ours.
    /// </summary>
    public void Fail(Exception exception, bool internalFailure = false)
    {
        lock (_faults)
        {
            if (!_faults.Contains(exception))
            {
                _faults.Add(exception);
            }
        }

        if (internalFailure)
        {
            SafeLog(logger => Log.InternalFailure(logger, exception));
        }

        Stop(StopReason.Faulted);
    }

    /// <summary>Throws what the run must throw once finished: its fault, or cancellation.</summary>
    public void ThrowIfFailed(CancellationToken cancellationToken)
    {
        if (Fault is { } fault)
        {
            ExceptionDispatchInfo.Throw(fault);
        }

        if (StopReason == StopReason.Canceled)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }

    /// <summary>
    /// Logs a failed item and applies the error policy. Never throws: a logger or handler that throws is logged (or
    /// ignored) so that it cannot stop the stage. Completes synchronously unless an async handler awaits.
    /// </summary>
    /// <param name="stage">The failing stage.</param>
    /// <param name="exception">The failure.</param>
    /// <param name="item">The item whose call failed.</param>
    /// <param name="progress">The failed call's run, not yet counted: under <see cref="ErrorPolicy.FailFast"/> it is marked as
    /// the library's own work once the logger (user code, which a stop does not wait for) has returned, so that the stop
    /// this failure causes waits until the failure is counted.</param>
    /// <param name="dispatcher">Whether the dispatcher failed rather than the worker.</param>
    public ValueTask ReportFailureAsync(Stage stage, Exception exception, object? item, RunProgress? progress = null, bool dispatcher = false)
    {
        SafeLog(logger =>
        {
            if (logger.IsEnabled(LogLevel.Error))
            {
                if (dispatcher)
                {
                    Log.DispatcherFailed(logger, stage.Name, item, exception);
                }
                else
                {
                    Log.WorkerFailed(logger, stage.Name, item, exception);
                }
            }
        });

        switch (ErrorPolicy.Kind)
        {
            // A worker's own OperationCanceledException cancels its item only, as Dataflow treats it.
            case ErrorPolicyKind.FailFast when exception is not OperationCanceledException:
                progress?.Reporting();
                Fail(exception);
                return default;
            case ErrorPolicyKind.Handle:
                return CallHandlerAsync(ErrorPolicy.Handler!, stage, new JobFailure(stage.Name, stage.Index, item, exception));
            default:
                return default;
        }
    }

    /// <summary>Runs a logging call, ignoring a logger that throws: a broken logger must not take the pipeline down.</summary>
    public void SafeLog(Action<ILogger> log)
    {
        try
        {
            log(Logger);
        }
        catch (Exception)
        {
            // As documented: logging failures are ignored.
        }
    }

    /// <summary>The input reader starts (running our code).</summary>
    public void InputStarted() => _input = 1;

    /// <summary>The input reader enters user code it cannot interrupt (the input's <c>MoveNext</c>).</summary>
    public void EnterInput() => _input = 2;

    /// <summary>The input reader is back in our code.</summary>
    public void ExitInput() => _input = 1;

    /// <summary>The input reader is done.</summary>
    public void InputEnded()
    {
        CloseInput();
        _input = 0;
        CheckQuiescent();
    }

    /// <summary>A run of a stage ended after the pipeline stopped: the pipeline may now be finished.</summary>
    public void CheckQuiescent()
    {
        // The token, not the stop reason: between the two, a worker could still see no stop and start a call after
        // the run returned.
        if (!_stop.IsCancellationRequested || _input == 1)
        {
            return;
        }

        foreach (var stage in Stages)
        {
            if (!stage.OnlyInUserCode())
            {
                return;
            }
        }

        SetFinished();
    }

    public JobStats Snapshot()
    {
        var stages = new StageStats[Stages.Length];
        for (var i = 0; i < stages.Length; i++)
        {
            stages[i] = Stages[i].Snapshot();
        }

        return new JobStats(stages);
    }

    /// <summary>
    /// The timeout passed: the run stops, unless nothing is left for it to cut short (the input is closed and every item
    /// handed over went through), in which case only the blocks' completion is still on its way.
    /// </summary>
    private void TimeoutPassed()
    {
        if (_inputClosed && Unfinished == 0)
        {
            AbandonFinalReport();
            return;
        }

        Stop(StopReason.Timeout);
    }

    /// <summary>
    /// Every item went through, but whoever waits for the run stops waiting: the run ends without waiting for the last
    /// progress report, which then goes to the receiver in the background if it is free, and is skipped if it is not.
    /// </summary>
    private void AbandonFinalReport()
    {
        Volatile.Write(ref _finalReportAbandoned, 1);
        if (Volatile.Read(ref _finishing) != 0)
        {
            CompleteFinished();
        }
    }

    private async ValueTask CallHandlerAsync(Func<JobFailure, CancellationToken, ValueTask> handler, Stage stage, JobFailure failure)
    {
        try
        {
            await handler(failure, Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (Token.IsCancellationRequested)
        {
            // Cut short by the run's stop, as a worker call is: not the handler's failure.
        }
        catch (Exception exception)
        {
            SafeLog(logger => Log.HandlerFailed(logger, stage.Name, failure.Item, exception));
        }
    }

    /// <summary>A tick of the progress timer: reports unless a report is still in the receiver or the run finished.</summary>
    private void ReportTick()
    {
        if (Volatile.Read(ref _finishing) == 0 && Interlocked.CompareExchange(ref _reporting, 1, 0) == 0)
        {
            ReportProgress();
        }
    }

    /// <summary>
    /// The last report, before anyone sees the run finished. A run that went to its end waits for a report still in the
    /// receiver, so the last snapshot is the final one; a stopped run does not wait for user code, and skips it.
    /// </summary>
    private void ReportFinal()
    {
        var spinner = default(SpinWait);
        while (Interlocked.CompareExchange(ref _reporting, 1, 0) != 0)
        {
            if (IsStopped || Volatile.Read(ref _finalReportAbandoned) != 0)
            {
                return;
            }

            spinner.SpinOnce();
        }

        ReportProgress();
    }

    /// <summary>Reports a snapshot; the caller holds <c>_reporting</c>, which this releases.</summary>
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
                SafeLog(logger => Log.ProgressFailed(logger, exception));
            }
        }
        finally
        {
            Volatile.Write(ref _reporting, 0);
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
            DisposeTimer(_progressTimer);
            if (Volatile.Read(ref _finalReportAbandoned) != 0)
            {
                ThreadPool.UnsafeQueueUserWorkItem(static pipeline => pipeline.ReportFinal(), this, preferLocal: false);
            }
            else
            {
                ReportFinal();
            }
        }

        CompleteFinished();
    }

    /// <summary>Lets whoever waits see the run finished; from SetFinished, or sooner from a stop that abandons the last report (both may call it).</summary>
    private void CompleteFinished()
    {
        JobMetrics.Unregister(this);
        _finished.TrySetResult();
    }
}
