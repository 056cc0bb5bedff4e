using System.Runtime.ExceptionServices;
using JobQ.Dataflow.Internal;

namespace JobQ.Dataflow;

/// <summary>
/// A running pipeline fed by hand (jobq's <c>JobManager</c>): <see cref="Put"/> items, <see cref="Join"/> to
/// finish, <see cref="SetThreadNum"/> to resize a stage while it runs.
/// </summary>
/// <typeparam name="TIn">The type of the items put.</typeparam>
/// <typeparam name="TOut">The type of the last stage's outputs, which are discarded as in jobq.</typeparam>
/// <remarks>
/// <para>Thread safety: every member may be called from any thread at once. Puts from several threads each reach
/// the pipeline exactly once; their relative order is the order they entered the first queue.</para>
/// <para>Lifetime: the workers start in the constructor. <see cref="Join"/> (or its async twin) ends the input and
/// waits; disposing without joining stops the pipeline as a zero timeout would and waits until no loop of it runs
/// except a call still inside user code, which stops when it returns.</para>
/// </remarks>
public sealed class JobManager<TIn, TOut> : IDisposable, IAsyncDisposable
{
    private const int Open = 0;
    private const int Joining = 1;
    private const int Disposed = 2;

    private readonly Pipeline _pipeline;
    private readonly InputBatcher<TIn> _input;
    private readonly object _joinLock = new();

    // _state moves Open -> Joining -> Disposed or Open -> Disposed, never back. The first Join waits for the puts already
    // waiting for room (InputBatcher.BeginJoin) before ending the input, so a put that began before Join is never
    // refused halfway.
    private int _state;
    private Task<bool>? _join;

    /// <summary>Starts a job manager (jobq's <c>JobManager(workers, queue_size, probe, keep_order)</c>).</summary>
    /// <param name="workers">The worker list.</param>
    /// <param name="queueSize">The capacity of each stage's input queue, in items. Default 1024.</param>
    /// <param name="probe">An optional probe for <see cref="JobQueue.Stat"/>.</param>
    /// <param name="keepOrder">Whether every stage passes outputs on in the order items were put.</param>
    public JobManager(Workers<TIn, TOut> workers, int queueSize = JobOptions.DefaultQueueSize, Probe? probe = null, bool keepOrder = false)
        : this(workers, new JobOptions { QueueSize = queueSize, Probe = probe, KeepOrder = keepOrder }, nameof(queueSize))
    {
    }

    /// <summary>Starts a job manager with full options.</summary>
    /// <param name="workers">The worker list.</param>
    /// <param name="options">The options; <see cref="JobOptions.Timeout"/> is ignored here (give it to <see cref="Join"/>).</param>
    public JobManager(Workers<TIn, TOut> workers, JobOptions options)
        : this(workers, options ?? throw new ArgumentNullException(nameof(options)), nameof(options))
    {
    }

    private JobManager(Workers<TIn, TOut> workers, JobOptions options, string optionsParam)
    {
        var validated = PipelineBuilder.Validate(workers, options, nameof(workers), optionsParam);
        var built = PipelineBuilder.Build(workers, validated, resizable: true, tail: false);
        _pipeline = built.Pipeline;
        _input = new InputBatcher<TIn>(built.Head, _pipeline.Token);
        _pipeline.Start(built.LastCompletion);
    }

    /// <summary>Puts an item into the first stage's queue, blocking while it is full (jobq's <c>put</c>).</summary>
    /// <param name="item">The item.</param>
    /// <exception cref="InvalidOperationException"><see cref="Join"/> has begun, or the manager stopped (a <see cref="Join"/> timeout or a fault) before the item could be queued.</exception>
    /// <exception cref="ObjectDisposedException">The manager was disposed.</exception>
    public void Put(TIn item)
    {
        ThrowIfDisposed();
        Check(_input.Put(item));
    }

    /// <summary>Puts an item, awaiting room instead of blocking.</summary>
    /// <param name="item">The item.</param>
    /// <param name="cancellationToken">Abandons the put: the item is not queued and <see cref="OperationCanceledException"/> is thrown.</param>
    /// <returns>A task that completes when the item is queued.</returns>
    /// <exception cref="InvalidOperationException"><see cref="Join"/> has begun, or the manager stopped first.</exception>
    /// <exception cref="ObjectDisposedException">The manager was disposed.</exception>
    public async ValueTask PutAsync(TIn item, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        Check(await _input.PutAsync(item, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// Ends the input and waits until every item put is processed, or the timeout passes (jobq's <c>join</c>).
    /// After a timeout, workers take no new item and each finishes the call it is in.
    /// </summary>
    /// <param name="timeout">The longest to wait; <see langword="null"/> waits for everything, and so do
    /// <see cref="Timeout.InfiniteTimeSpan"/> and any value at or above the longest delay a timer can wait
    /// (<see cref="uint.MaxValue"/> - 1 milliseconds, about 49.7 days; <see cref="TimeSpan.MaxValue"/> too).</param>
    /// <returns><see langword="true"/> if every item put was processed; <see langword="false"/> if the timeout passed first, or
    /// the manager was disposed before everything finished. It returns without waiting for calls still inside a worker.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative (other than
    /// <see cref="Timeout.InfiniteTimeSpan"/>); thrown before the join begins, so the manager still takes items.</exception>
    /// <remarks>A worker's exception is logged and counted, and Join still returns <see langword="true"/>; only under
    /// <see cref="ErrorPolicy.FailFast"/> does the first worker failure stop the manager, and Join then rethrows that same
    /// exception. A second call, from any thread, waits for the same outcome and returns (or throws) the same; its timeout
    /// is ignored. Join takes no cancellation token: <see cref="JoinAsync"/>'s abandons the wait.</remarks>
    public bool Join(TimeSpan? timeout = null) => JoinAsync(timeout).GetAwaiter().GetResult();

    /// <summary>The async twin of <see cref="Join"/>.</summary>
    /// <param name="timeout">The longest to wait, as for <see cref="Join"/>: <see langword="null"/>, <see cref="Timeout.InfiniteTimeSpan"/>
    /// and any value at or above the longest delay a timer can wait (about 49.7 days) wait for everything.</param>
    /// <param name="cancellationToken">Abandons this wait only: the returned task ends <see cref="TaskStatus.Canceled"/> (awaiting it
    /// throws <see cref="OperationCanceledException"/>). A token already cancelled at the call changes nothing: the join does
    /// not begin, and later puts and joins work as if this call had not been made. A token cancelled later leaves the join
    /// begun (no more puts are taken) and the pipeline going on; a later <c>Join</c> returns its outcome. Dispose the manager to stop it.</param>
    /// <returns>A task that completes with <see langword="true"/> if every item put was processed, or <see langword="false"/> if the
    /// timeout passed first or the manager was disposed before everything finished; or faults, under
    /// <see cref="ErrorPolicy.FailFast"/>, with the first worker failure.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative (other than
    /// <see cref="Timeout.InfiniteTimeSpan"/>); thrown by this call, not through the task, before the join begins.</exception>
    public Task<bool> JoinAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        JobOptions.ThrowIfInvalidTimeout(timeout, nameof(timeout), "Join: timeout");
        if (cancellationToken.IsCancellationRequested)
        {
            // Cancelled before it began: nothing changes, the input stays open.
            return Task.FromCanceled<bool>(cancellationToken);
        }

        Task<bool> join;
        lock (_joinLock)
        {
            if (_join is null)
            {
                _join = JoinCoreAsync(JobOptions.NormalizeTimeout(timeout));

                // Every caller may abandon its wait (a cancelled token), leaving the join's fault with no one to observe it.
                _join.ContinueWith(static join => _ = join.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            join = _join;
        }

        return cancellationToken.CanBeCanceled ? join.WaitAsync(cancellationToken) : join;
    }

    /// <summary>
    /// Changes the number of workers of the stage whose worker is <paramref name="worker"/>, while it runs (jobq's
    /// <c>set_thread_num</c>). Growing admits the new workers' work before returning (their calls start moments later,
    /// on new threads for a sync worker); shrinking lets each surplus worker finish the run it holds (one item for a
    /// slow worker, up to 1024 for a cheap one), then stop. No item is lost, duplicated or reordered by a change.
    /// </summary>
    /// <param name="worker">The delegate given at construction; a fresh delegate for the same method (and target) matches.</param>
    /// <param name="threads">The new number of workers; between 1 and <see cref="JobOptions.MaxThreads"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="worker"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is not between 1 and <see cref="JobOptions.MaxThreads"/>;
    /// the message names the stage (or the worker, when no stage has it).</exception>
    /// <exception cref="JobWorkerNotFoundException">No stage has that worker.</exception>
    /// <exception cref="JobWorkerException">The stage has a dispatcher: its worker count is its partition count.</exception>
    /// <remarks>After <see cref="Join"/> began, or after disposal, a call with a valid <paramref name="threads"/> does nothing and
    /// returns quietly, even for a worker no stage has; an invalid <paramref name="threads"/> is still refused.</remarks>
    public void SetThreadNum(Delegate worker, int threads)
    {
        ArgumentNullException.ThrowIfNull(worker);
        var stage = Array.Find(_pipeline.Stages, s => Matches(s.UserDelegate, worker));
        if (threads <= 0 || threads > JobOptions.MaxThreads)
        {
            var which = stage is null ? $"the worker {Describe(worker)}" : $"stage {stage.Index} ('{stage.Name}')";
            throw new ArgumentOutOfRangeException(
                nameof(threads),
                threads,
                $"SetThreadNum: threads of {which} must be between 1 and {JobOptions.MaxThreads} (JobOptions.MaxThreads); it was {threads}.");
        }

        if (Volatile.Read(ref _state) != Open)
        {
            return;
        }

        if (stage is null)
        {
            throw new JobWorkerNotFoundException($"No stage of this job manager has the worker {Describe(worker)}.");
        }

        stage.SetWorkerCount(threads);
    }

    /// <summary>Returns a snapshot of the pipeline's statistics (jobq's <c>stat</c>), with each stage's current worker count.</summary>
    /// <returns>The snapshot.</returns>
    public JobStats Stat() => _pipeline.Snapshot();

    /// <summary>Stops the pipeline unless it already finished, and waits until no loop of it runs except calls still in user code.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>The async twin of <see cref="Dispose"/>.</summary>
    /// <returns>A task that completes when the pipeline has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _state, Disposed) == Disposed)
        {
            return;
        }

        var unfinished = _pipeline.Unfinished;
        if (_pipeline.Stop(StopReason.Disposed) && unfinished > 0)
        {
            // Dispose without Join drops what was put; said, rather than done in silence.
            _pipeline.SafeLog(logger => Log.DisposedUnfinished(logger, unfinished));
        }

        await _pipeline.Finished.ConfigureAwait(false);
    }

    /// <summary>Names a worker in a message: by its method, or, for a lambda, by how to match it.</summary>
    private static string Describe(Delegate worker)
        => Workers.MethodName(worker)
           ?? "given, a lambda (a lambda matches only the delegate the stage was made with: keep that delegate, or use a named method)";

    /// <summary>
    /// The same method of the same instance: a target is compared by reference, never by its own Equals (two equal
    /// records are two stages' workers); a value-type target, boxed anew for each delegate, by value.
    /// </summary>
    private static bool Matches(Delegate? candidate, Delegate worker)
        => candidate is not null
           && candidate.Method == worker.Method
           && (ReferenceEquals(candidate.Target, worker.Target) || (candidate.Target is ValueType && Equals(candidate.Target, worker.Target)));

    /// <summary>Throws once the manager is disposed, naming it as C# spells its type (<c>JobManager&lt;Int32, String&gt;</c>).</summary>
    private void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _state) == Disposed)
        {
            throw new ObjectDisposedException($"JobManager<{typeof(TIn).Name}, {typeof(TOut).Name}>");
        }
    }

    private void Check(PutResult result)
    {
        if (result == PutResult.Added)
        {
            return;
        }

        ThrowIfDisposed();
        var fault = _pipeline.StopReason == StopReason.Faulted ? _pipeline.Fault : null;
        var why = _pipeline.StopReason switch
        {
            StopReason.Faulted => fault is null ? "it faulted" : $"it faulted: {fault.GetType().Name}: {MessageOf(fault)}",
            StopReason.Timeout => "its Join timed out",

            // Refused for the join alone: it is under way or has ended with every item processed.
            _ => null,
        };
        throw new InvalidOperationException(
            why is null
                ? "Put after Join began: the job manager takes no more items."
                : $"The job manager stopped ({why}) before the item could be queued.",
            fault);
    }

    /// <summary>The fault's message; a user's exception whose message throws must not replace the refusal.</summary>
    private static string MessageOf(Exception fault)
    {
        try
        {
            return fault.Message;
        }
        catch (Exception)
        {
            return "(its message could not be read)";
        }
    }

    private async Task<bool> JoinCoreAsync(TimeSpan? timeout)
    {
        // Joining begins before the clock starts, so that a timeout finds the puts closed if none was waiting.
        Interlocked.CompareExchange(ref _state, Joining, Open);
        var putsDone = _input.BeginJoin();
        var timer = _pipeline.StartTimeout(timeout);
        try
        {
            await putsDone.ConfigureAwait(false);
            if (!_pipeline.IsStopped)
            {
                _input.Complete();
            }

            await _pipeline.Finished.ConfigureAwait(false);
        }
        finally
        {
            _pipeline.DisposeTimer(timer);
        }

        if (_pipeline.Fault is { } fault)
        {
            ExceptionDispatchInfo.Throw(fault);
        }

        return _pipeline.StopReason == StopReason.None;
    }
}
