using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Internal;

namespace JobQ.Dataflow;

/// <summary>
/// jobq's module functions: run a worker list over an input (<see cref="Run{TIn, TOut}(IEnumerable{TIn}, Workers{TIn, TOut}, bool, TimeSpan?, Probe?)"/>),
/// read a probe (<see cref="Stat"/>), drop an item (<see cref="EmptyRst"/>), and pace a stage (<see cref="LimitJobSpeed(double, int)"/>).
/// </summary>
/// <example>
/// <code>
/// static int Add1(int x) => x + 1;
/// static int Multi2(int x) => x * 2;
/// static void Print(int x) => Console.WriteLine(x);
///
/// JobQueue.Run([0, 1, 2], Workers.Of&lt;int&gt;().Then(Add1).Then(Multi2).Then(Print)); // 2 4 6
/// </code>
/// </example>
public static class JobQueue
{
    /// <summary>Gets the value a worker returns to pass nothing to the next stage (jobq's <c>EmptyRst</c>).</summary>
    /// <remarks>Return it from a worker declared to return <see cref="WorkerResult{T}"/>: <c>i % 2 == 0 ? JobQueue.EmptyRst : i</c>.
    /// As a lambda, give the stage's output type, which C# cannot infer from <c>EmptyRst</c> and a value:
    /// <c>Then&lt;int&gt;(x =&gt; x % 2 == 0 ? JobQueue.EmptyRst : x)</c>.</remarks>
    public static EmptyResult EmptyRst => default;

    /// <summary>
    /// Processes every element of <paramref name="input"/> through the stages of <paramref name="workers"/> and
    /// returns once all are done or the timeout passes (jobq's <c>run</c>). Blocks the calling thread.
    /// </summary>
    /// <typeparam name="TIn">The type of the input elements.</typeparam>
    /// <typeparam name="TOut">The type of the last stage's outputs, which are discarded as in jobq.</typeparam>
    /// <param name="input">The input, read lazily as the first queue has room.</param>
    /// <param name="workers">The worker list.</param>
    /// <param name="keepOrder">Whether every stage passes outputs on in input order.</param>
    /// <param name="timeout">The longest the run may take; <see langword="null"/> waits for everything, and so do
    /// <see cref="Timeout.InfiniteTimeSpan"/> and any value at or above the longest delay a timer can wait
    /// (<see cref="uint.MaxValue"/> - 1 milliseconds, about 49.7 days; <see cref="TimeSpan.MaxValue"/> too).</param>
    /// <param name="probe">A probe to read live statistics from with <see cref="Stat"/>.</param>
    /// <returns>The run's result: <see cref="JobRunResult.Completed"/> when every item went through the pipeline;
    /// <see cref="JobRunResult.TimedOut"/> when the timeout passed first, in which case it returns without waiting for calls
    /// still inside a worker (they finish later and pass nothing on). <see cref="JobRunResult.Failed"/> counts the calls that failed.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="input"/> or <paramref name="workers"/> is null.</exception>
    /// <exception cref="ArgumentException">The worker list is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative (other than <see cref="Timeout.InfiniteTimeSpan"/>).</exception>
    /// <remarks>Argument errors are thrown before any input is read. A worker's exception never escapes: it is logged (to
    /// standard error when no logger is set; see <see cref="JobOptions.Logger"/>), that item dropped, and the call counted in
    /// <see cref="JobRunResult.Failed"/>. An exception thrown by <paramref name="input"/> stops the reading; items in
    /// flight finish, then that same exception is rethrown here. Run takes no cancellation token: to cancel a run, use
    /// <see cref="RunAsync{TIn, TOut}(IEnumerable{TIn}, Workers{TIn, TOut}, JobOptions?, CancellationToken)"/>.</remarks>
    public static JobRunResult Run<TIn, TOut>(
        IEnumerable<TIn> input,
        Workers<TIn, TOut> workers,
        bool keepOrder = false,
        TimeSpan? timeout = null,
        Probe? probe = null)
    {
        JobOptions.ThrowIfInvalidTimeout(timeout, nameof(timeout), "Run: timeout");
        return Run(input, workers, new JobOptions { KeepOrder = keepOrder, Timeout = timeout, Probe = probe });
    }

    /// <summary>Processes <paramref name="input"/> through <paramref name="workers"/> with the given options; blocks the calling thread.</summary>
    /// <typeparam name="TIn">The type of the input elements.</typeparam>
    /// <typeparam name="TOut">The type of the last stage's outputs, which are discarded.</typeparam>
    /// <param name="input">The input, read lazily.</param>
    /// <param name="workers">The worker list.</param>
    /// <param name="options">The options; copied when the run starts.</param>
    /// <returns>The run's result: <see cref="JobRunResult.Completed"/> when every item went through the pipeline;
    /// <see cref="JobRunResult.TimedOut"/> when <see cref="JobOptions.Timeout"/> passed first, in which case it returns without
    /// waiting for calls still inside a worker (they finish later and pass nothing on). <see cref="JobRunResult.Failed"/>
    /// counts the calls that failed.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="input"/>, <paramref name="workers"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">The worker list is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (its <see cref="ArgumentException.ParamName"/> is
    /// <c>options</c> and the message names the option): <see cref="JobOptions.QueueSize"/> not positive, <see cref="JobOptions.Timeout"/>
    /// negative (other than <see cref="Timeout.InfiniteTimeSpan"/>), <see cref="JobOptions.ProgressInterval"/> not positive or
    /// longer than a timer can wait.</exception>
    /// <remarks>Argument errors are thrown before any input is read. Under <see cref="ErrorPolicy.FailFast"/> the first
    /// worker failure stops the run and that same exception is rethrown here; under the other policies a worker's exception
    /// never escapes. An exception thrown by <paramref name="input"/> stops the reading; items in flight finish, then that
    /// same exception is rethrown here. Run takes no cancellation token: to cancel a run, use
    /// <see cref="RunAsync{TIn, TOut}(IEnumerable{TIn}, Workers{TIn, TOut}, JobOptions?, CancellationToken)"/>.</remarks>
    public static JobRunResult Run<TIn, TOut>(IEnumerable<TIn> input, Workers<TIn, TOut> workers, JobOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(input);
        var validated = PipelineBuilder.Validate(workers, options, nameof(workers), nameof(options));
        var built = PipelineBuilder.Build(workers, validated, resizable: false, tail: false);
        var pipeline = built.Pipeline;
        pipeline.Start(built.LastCompletion);
        var feeder = InputFeeder<TIn>.Start(input, pipeline, built.Head);
        var timer = pipeline.StartTimeout(validated.Timeout, pipeline.Created);
        pipeline.Finished.Wait();
        pipeline.DisposeTimer(timer);
        return Result(pipeline, feeder.Error, CancellationToken.None);
    }

    /// <summary>The async twin of <see cref="Run{TIn, TOut}(IEnumerable{TIn}, Workers{TIn, TOut}, JobOptions)"/>.</summary>
    /// <typeparam name="TIn">The type of the input elements.</typeparam>
    /// <typeparam name="TOut">The type of the last stage's outputs, which are discarded.</typeparam>
    /// <param name="input">The input, read lazily on a dedicated thread (its enumerator may block).</param>
    /// <param name="workers">The worker list.</param>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the run: it stops as a timeout would (no new call starts, async workers see
    /// their token cancelled, calls in progress pass nothing on), then the returned task ends <see cref="TaskStatus.Canceled"/>.</param>
    /// <returns>A task that completes with the run's result (<see cref="JobRunResult.Completed"/>, or <see cref="JobRunResult.TimedOut"/>
    /// when <see cref="JobOptions.Timeout"/> passed first), or ends <see cref="TaskStatus.Canceled"/> (awaiting it throws
    /// <see cref="OperationCanceledException"/> carrying <paramref name="cancellationToken"/>) when the token was cancelled before the
    /// run finished or timed out, or faults with the input's exception or, under <see cref="ErrorPolicy.FailFast"/>, the first
    /// worker failure. Like <c>Run</c>, it ends without waiting for calls still inside a worker.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="input"/> or <paramref name="workers"/> is null; thrown by this call, not through the task.</exception>
    /// <exception cref="ArgumentException">The worker list is empty, or an option is out of range (an
    /// <see cref="ArgumentOutOfRangeException"/> whose <see cref="ArgumentException.ParamName"/> is <c>options</c>); thrown by this call, not through the task.</exception>
    /// <remarks>The first of the timeout and the cancellation decides: a token cancelled after the run finished or timed out
    /// changes nothing, and the result is returned. A token already cancelled at the call gives a task that is already
    /// <see cref="TaskStatus.Canceled"/>: no input is read and no worker called.</remarks>
    public static Task<JobRunResult> RunAsync<TIn, TOut>(
        IEnumerable<TIn> input,
        Workers<TIn, TOut> workers,
        JobOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        var validated = PipelineBuilder.Validate(workers, options, nameof(workers), nameof(options));
        return ExecuteAsync(workers, validated, (pipeline, head) => InputFeeder<TIn>.Start(input, pipeline, head), cancellationToken);
    }

    /// <summary>Processes an async input through <paramref name="workers"/>.</summary>
    /// <typeparam name="TIn">The type of the input elements.</typeparam>
    /// <typeparam name="TOut">The type of the last stage's outputs, which are discarded.</typeparam>
    /// <param name="input">The input, read lazily; it receives the run's cancellation token.</param>
    /// <param name="workers">The worker list.</param>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the run: it stops as a timeout would (no new call starts, async workers see
    /// their token cancelled, calls in progress pass nothing on), then the returned task ends <see cref="TaskStatus.Canceled"/>.</param>
    /// <returns>A task that completes with the run's result (<see cref="JobRunResult.Completed"/>, or <see cref="JobRunResult.TimedOut"/>
    /// when <see cref="JobOptions.Timeout"/> passed first), or ends <see cref="TaskStatus.Canceled"/> (awaiting it throws
    /// <see cref="OperationCanceledException"/> carrying <paramref name="cancellationToken"/>) when the token was cancelled before the
    /// run finished or timed out, or faults with the input's exception or, under <see cref="ErrorPolicy.FailFast"/>, the first
    /// worker failure. Like <c>Run</c>, it ends without waiting for calls still inside a worker.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="input"/> or <paramref name="workers"/> is null; thrown by this call, not through the task.</exception>
    /// <exception cref="ArgumentException">The worker list is empty, or an option is out of range (an
    /// <see cref="ArgumentOutOfRangeException"/> whose <see cref="ArgumentException.ParamName"/> is <c>options</c>); thrown by this call, not through the task.</exception>
    /// <remarks>The first of the timeout and the cancellation decides: a token cancelled after the run finished or timed out
    /// changes nothing, and the result is returned. A token already cancelled at the call gives a task that is already
    /// <see cref="TaskStatus.Canceled"/>: no input is read and no worker called.</remarks>
    public static Task<JobRunResult> RunAsync<TIn, TOut>(
        IAsyncEnumerable<TIn> input,
        Workers<TIn, TOut> workers,
        JobOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        var validated = PipelineBuilder.Validate(workers, options, nameof(workers), nameof(options));
        return ExecuteAsync(workers, validated, (pipeline, head) => InputFeeder<TIn>.Start(input, pipeline, head), cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="input"/> through <paramref name="workers"/> and yields the last stage's outputs as they
    /// come (in input order under keepOrder). The consumer's pace holds the pipeline back through its bounded queues.
    /// </summary>
    /// <typeparam name="TIn">The type of the input elements.</typeparam>
    /// <typeparam name="TOut">The type of the outputs.</typeparam>
    /// <param name="input">The input, read lazily on a dedicated thread.</param>
    /// <param name="workers">The worker list.</param>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Stops the run; the next <c>MoveNextAsync</c> then throws <see cref="OperationCanceledException"/>,
    /// even while outputs are still buffered (they are dropped, never handed out).</param>
    /// <returns>The outputs. Stopping the enumeration early (disposing the enumerator) stops the run.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="input"/> or <paramref name="workers"/> is null; thrown by this call.</exception>
    /// <exception cref="ArgumentException">The worker list is empty, or an option is out of range (an
    /// <see cref="ArgumentOutOfRangeException"/> whose <see cref="ArgumentException.ParamName"/> is <c>options</c>); thrown by this
    /// call, before any work starts.</exception>
    /// <remarks>
    /// <para>How the sequence ends, as thrown by <c>MoveNextAsync</c>: normally, once every output was yielded; with
    /// <see cref="OperationCanceledException"/> once <paramref name="cancellationToken"/> is cancelled (at once if it already was);
    /// with a <see cref="TimeoutException"/> once <see cref="JobOptions.Timeout"/> passes, so that a truncated result cannot pass
    /// for a whole one; with the first worker failure under <see cref="ErrorPolicy.FailFast"/>. After a stop, the next
    /// <c>MoveNextAsync</c> throws however many outputs are still buffered, and one already waiting throws as soon as the run stops.
    /// An exception thrown by <paramref name="input"/> ends the sequence once the outputs of the items read before it were yielded.</para>
    /// <para>Work starts at the first <c>MoveNextAsync</c>, not at this call.</para>
    /// </remarks>
    public static IAsyncEnumerable<TOut> StreamAsync<TIn, TOut>(
        IEnumerable<TIn> input,
        Workers<TIn, TOut> workers,
        JobOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        var validated = PipelineBuilder.Validate(workers, options, nameof(workers), nameof(options));
        return StreamCoreAsync(workers, validated, (pipeline, head) => InputFeeder<TIn>.Start(input, pipeline, head), cancellationToken);
    }

    /// <summary>Runs an async input through <paramref name="workers"/> and yields the last stage's outputs as they come.</summary>
    /// <typeparam name="TIn">The type of the input elements.</typeparam>
    /// <typeparam name="TOut">The type of the outputs.</typeparam>
    /// <param name="input">The input, read lazily.</param>
    /// <param name="workers">The worker list.</param>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Stops the run; the next <c>MoveNextAsync</c> then throws <see cref="OperationCanceledException"/>,
    /// even while outputs are still buffered (they are dropped, never handed out).</param>
    /// <returns>The outputs. Stopping the enumeration early (disposing the enumerator) stops the run.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="input"/> or <paramref name="workers"/> is null; thrown by this call.</exception>
    /// <exception cref="ArgumentException">The worker list is empty, or an option is out of range (an
    /// <see cref="ArgumentOutOfRangeException"/> whose <see cref="ArgumentException.ParamName"/> is <c>options</c>); thrown by this
    /// call, before any work starts.</exception>
    /// <remarks>
    /// <para>How the sequence ends, as thrown by <c>MoveNextAsync</c>: normally, once every output was yielded; with
    /// <see cref="OperationCanceledException"/> once <paramref name="cancellationToken"/> is cancelled (at once if it already was);
    /// with a <see cref="TimeoutException"/> once <see cref="JobOptions.Timeout"/> passes, so that a truncated result cannot pass
    /// for a whole one; with the first worker failure under <see cref="ErrorPolicy.FailFast"/>. After a stop, the next
    /// <c>MoveNextAsync</c> throws however many outputs are still buffered, and one already waiting throws as soon as the run stops.
    /// An exception thrown by <paramref name="input"/> ends the sequence once the outputs of the items read before it were yielded.</para>
    /// <para>Work starts at the first <c>MoveNextAsync</c>, not at this call.</para>
    /// </remarks>
    public static IAsyncEnumerable<TOut> StreamAsync<TIn, TOut>(
        IAsyncEnumerable<TIn> input,
        Workers<TIn, TOut> workers,
        JobOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        var validated = PipelineBuilder.Validate(workers, options, nameof(workers), nameof(options));
        return StreamCoreAsync(workers, validated, (pipeline, head) => InputFeeder<TIn>.Start(input, pipeline, head), cancellationToken);
    }

    /// <summary>
    /// Makes the whole pipeline one Dataflow block: items posted or linked in go through every stage, and the last
    /// stage's outputs come out and can be linked onward.
    /// </summary>
    /// <typeparam name="TIn">The type of the items the block accepts.</typeparam>
    /// <typeparam name="TOut">The type of the items the block offers.</typeparam>
    /// <param name="workers">The worker list.</param>
    /// <param name="options">The options; <see cref="JobOptions.QueueSize"/> is also the bounded capacity of the block's
    /// input and output buffers; <see cref="JobOptions.Timeout"/> is ignored (use <see cref="IDataflowBlock.Fault"/> or complete it).</param>
    /// <param name="cancellationToken">Cancels the block as <see cref="DataflowBlockOptions.CancellationToken"/> cancels a Dataflow block: it declines further offers, starts no new worker call, drops what it holds, and its <c>Completion</c> ends <see cref="TaskStatus.Canceled"/> once calls in progress return.</param>
    /// <returns>The block, already running.</returns>
    /// <remarks>It follows Dataflow's conventions: <c>Complete()</c> drains then completes; <c>Fault()</c> stops it;
    /// completion and faults propagate over links made with <c>PropagateCompletion</c>; offers are postponed while
    /// the input buffer is full. A worker's exception is handled by <see cref="JobOptions.ErrorPolicy"/>: logged and
    /// dropped by default; only <see cref="ErrorPolicy.FailFast"/> faults the block.</remarks>
    public static IPropagatorBlock<TIn, TOut> CreateBlock<TIn, TOut>(Workers<TIn, TOut> workers, JobOptions? options = null, CancellationToken cancellationToken = default)
    {
        var validated = PipelineBuilder.Validate(workers, options, nameof(workers), nameof(options));
        return PipelineBlock<TIn, TOut>.Create(workers, validated, cancellationToken);
    }

    /// <summary>
    /// Makes a speed-limit block for any Dataflow graph: items pass through unchanged, paced to the limit, with no
    /// thread blocked while they wait. It is <see cref="CreateBlock{TIn, TOut}"/> of a one-stage worker list, so it
    /// has the same options, stats (through <see cref="JobOptions.Probe"/>) and Dataflow conventions.
    /// </summary>
    /// <typeparam name="T">The type of the items.</typeparam>
    /// <param name="limit">The limit, from <see cref="LimitJobSpeed(double, int)"/> or <see cref="LimitJobSpeed(Func{double}, int)"/>.</param>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the block as <see cref="DataflowBlockOptions.CancellationToken"/> cancels a Dataflow block: it declines further offers, starts no new worker call, drops what it holds, and its <c>Completion</c> ends <see cref="TaskStatus.Canceled"/> once calls in progress return.</param>
    /// <returns>The block, already running.</returns>
    public static IPropagatorBlock<T, T> CreateSpeedLimitBlock<T>(SpeedLimit limit, JobOptions? options = null, CancellationToken cancellationToken = default)
        => CreateBlock(Workers.Of<T>().Then(limit), options, cancellationToken);

    /// <summary>
    /// Makes a partitioned block for any Dataflow graph: item goes to partition <c>dispatcher(item) mod partitions</c>
    /// (never negative); each partition processes its items one at a time in arrival order, partitions run at once,
    /// and outputs leave in input order. It is <see cref="CreateBlock{TIn, TOut}"/> of a one-stage worker list.
    /// </summary>
    /// <typeparam name="TIn">The type of the items the block accepts.</typeparam>
    /// <typeparam name="TOut">The type of the worker's results.</typeparam>
    /// <param name="worker">The worker; sync: each busy partition runs on a dedicated thread (on the pool once calls prove
    /// cheap); a partition is not tied to one thread.</param>
    /// <param name="partitions">The number of partitions; positive, at most <see cref="JobOptions.MaxThreads"/>.</param>
    /// <param name="dispatcher">Maps an item to its partition key.</param>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the block as <see cref="DataflowBlockOptions.CancellationToken"/> cancels a Dataflow block: it declines further offers, starts no new worker call, drops what it holds, and its <c>Completion</c> ends <see cref="TaskStatus.Canceled"/> once calls in progress return.</param>
    /// <returns>The block, already running.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="partitions"/> is not from 1 to <see cref="JobOptions.MaxThreads"/>.</exception>
    /// <exception cref="ArgumentException">The worker returns a task or a <see cref="WorkerResult{T}"/>, which this sync form would
    /// pass on as data: an async worker without a token, for example. The message names the forms that work.</exception>
    /// <remarks>It takes a sync worker, or an async one given the block's token (the other overload). For any other worker form,
    /// build the block with <see cref="CreateBlock{TIn, TOut}"/>: <c>CreateBlock(Workers.Of&lt;TIn&gt;().Then(worker, partitions, dispatcher))</c>.</remarks>
    public static IPropagatorBlock<TIn, TOut> CreatePartitionedBlock<TIn, TOut>(Func<TIn, TOut> worker, int partitions, Func<TIn, int> dispatcher, JobOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(worker);
        ArgumentNullException.ThrowIfNull(dispatcher);
        CheckPartitions(partitions);
        if (Workers<TIn, TIn>.IsAwaitableOrResult(typeof(TOut)))
        {
            var (item, output) = (Workers.TypeName(typeof(TIn)), Workers.TypeName(typeof(TOut)));
            throw new ArgumentException(
                $"CreatePartitionedBlock: the worker's output type is {output}, which this sync form would pass on as data, never awaited "
                + $"or unwrapped. Give an async worker the block's token, as a Func<{item}, CancellationToken, Task<T>>, or build the block "
                + $"with CreateBlock(Workers.Of<{item}>().Then(worker, partitions, dispatcher)), which takes every worker form.",
                nameof(worker));
        }

        return CreateBlock(Workers.Of<TIn>().Then(worker, partitions, dispatcher), options, cancellationToken);
    }

    /// <summary>Makes a partitioned block whose worker is async; see <see cref="CreatePartitionedBlock{TIn, TOut}(Func{TIn, TOut}, int, Func{TIn, int}, JobOptions?, CancellationToken)"/>.</summary>
    /// <typeparam name="TIn">The type of the items the block accepts.</typeparam>
    /// <typeparam name="TOut">The type of the worker's results.</typeparam>
    /// <param name="worker">The worker; it receives a token cancelled when the block is cancelled or faults.</param>
    /// <param name="partitions">The number of partitions; positive, at most <see cref="JobOptions.MaxThreads"/>.</param>
    /// <param name="dispatcher">Maps an item to its partition key.</param>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the block as <see cref="DataflowBlockOptions.CancellationToken"/> cancels a Dataflow block: it declines further offers, starts no new worker call, drops what it holds, and its <c>Completion</c> ends <see cref="TaskStatus.Canceled"/> once calls in progress return.</param>
    /// <returns>The block, already running.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="partitions"/> is not from 1 to <see cref="JobOptions.MaxThreads"/>.</exception>
    public static IPropagatorBlock<TIn, TOut> CreatePartitionedBlock<TIn, TOut>(Func<TIn, CancellationToken, Task<TOut>> worker, int partitions, Func<TIn, int> dispatcher, JobOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dispatcher);
        CheckPartitions(partitions);
        return CreateBlock(Workers.Of<TIn>().Then(worker, partitions, dispatcher), options, cancellationToken);
    }

    private static void CheckPartitions(int partitions)
    {
        if (partitions is <= 0 or > JobOptions.MaxThreads)
        {
            throw new ArgumentOutOfRangeException(
                nameof(partitions),
                partitions,
                $"CreatePartitionedBlock: partitions must be from 1 to {JobOptions.MaxThreads} (JobOptions.MaxThreads); it was {partitions}.");
        }
    }

    /// <summary>Returns a snapshot of the statistics a run writes into <paramref name="probe"/> (jobq's <c>stat</c>).</summary>
    /// <param name="probe">The probe given to the run.</param>
    /// <returns>The snapshot; empty if no run has used the probe yet.</returns>
    public static JobStats Stat(Probe probe)
    {
        ArgumentNullException.ThrowIfNull(probe);
        return probe.Snapshot();
    }

    /// <summary>Makes a speed limit (jobq's <c>limit_job_speed</c>); add it to a worker list with <c>Then(limit)</c>.</summary>
    /// <param name="maxJobSpeed">The most units per second; a positive number. <see cref="double.PositiveInfinity"/> means no limit.</param>
    /// <param name="jobStep">The units each item counts for; positive. Default 1.</param>
    /// <returns>The limit.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxJobSpeed"/> is not a positive number, or <paramref name="jobStep"/>
    /// is not positive, or one item's wait (<paramref name="jobStep"/> / <paramref name="maxJobSpeed"/> seconds) is longer than a
    /// timer can wait (<see cref="uint.MaxValue"/> - 1 milliseconds, about 49.7 days).</exception>
    public static SpeedLimit LimitJobSpeed(double maxJobSpeed, int jobStep = 1)
    {
        if (double.IsNaN(maxJobSpeed) || maxJobSpeed <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxJobSpeed), maxJobSpeed, $"LimitJobSpeed: maxJobSpeed must be a positive number of units per second; it was {maxJobSpeed}.");
        }

        ThrowIfInvalidJobStep(jobStep);

        // Each item waits jobStep / maxJobSpeed seconds; no timer waits longer than MaxTimerDelay, so a slower rate would
        // fail every item. The rate is named when even one unit per item is too slow, the step otherwise.
        var longest = JobOptions.MaxTimerDelay.TotalSeconds;
        if (1 / maxJobSpeed > longest)
        {
            throw new ArgumentOutOfRangeException(
                nameof(maxJobSpeed),
                maxJobSpeed,
                $"LimitJobSpeed: maxJobSpeed {maxJobSpeed.ToString(CultureInfo.InvariantCulture)} units per second makes each unit wait "
                + $"{(1 / maxJobSpeed).ToString(CultureInfo.InvariantCulture)} s, longer than a timer can wait ({longest.ToString(CultureInfo.InvariantCulture)} s, "
                + $"about 49.7 days); it must be at least {(1 / longest).ToString(CultureInfo.InvariantCulture)}.");
        }

        if (jobStep / maxJobSpeed > longest)
        {
            throw new ArgumentOutOfRangeException(
                nameof(jobStep),
                jobStep,
                $"LimitJobSpeed: jobStep {jobStep.ToString(CultureInfo.InvariantCulture)} at maxJobSpeed {maxJobSpeed.ToString(CultureInfo.InvariantCulture)} "
                + $"units per second makes each item wait {(jobStep / maxJobSpeed).ToString(CultureInfo.InvariantCulture)} s, longer than a timer can wait "
                + $"({longest.ToString(CultureInfo.InvariantCulture)} s, about 49.7 days).");
        }

        return new SpeedLimit(() => maxJobSpeed, jobStep);
    }

    /// <summary>Makes a speed limit whose rate is read from <paramref name="maxJobSpeed"/> before every item, so it can change while the run goes on.</summary>
    /// <param name="maxJobSpeed">Returns the most units per second. A value that is not positive, or an exception, is logged and the last good rate stays in force.</param>
    /// <param name="jobStep">The units each item counts for; positive. Default 1.</param>
    /// <returns>The limit.</returns>
    public static SpeedLimit LimitJobSpeed(Func<double> maxJobSpeed, int jobStep = 1)
    {
        ArgumentNullException.ThrowIfNull(maxJobSpeed);
        ThrowIfInvalidJobStep(jobStep);
        return new SpeedLimit(maxJobSpeed, jobStep);
    }

    private static void ThrowIfInvalidJobStep(int jobStep)
    {
        if (jobStep <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(jobStep), jobStep, $"LimitJobSpeed: jobStep must be a positive number of units per item; it was {jobStep}.");
        }
    }

    private static async IAsyncEnumerable<TOut> StreamCoreAsync<TIn, TOut>(
        Workers<TIn, TOut> workers,
        JobOptions options,
        Func<Pipeline, PipelineHead<TIn>, InputFeeder<TIn>> startFeeder,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var built = PipelineBuilder.Build(workers, options, resizable: false, tail: true);
        var pipeline = built.Pipeline;
        var tail = built.Tail!.Block;
        pipeline.Start(built.LastCompletion);
        var feeder = startFeeder(pipeline, built.Head);
        using var timer = pipeline.StartTimeout(options.Timeout, pipeline.Created);
        using var registration = cancellationToken.UnsafeRegister(static state => ((Pipeline)state!).Stop(StopReason.Canceled), pipeline);
        try
        {
            while (true)
            {
                // Checked before every item: once stopped, what is still buffered is not handed out as if the run went on.
                ThrowIfStopped(pipeline, options.Timeout, cancellationToken);
                if (tail.TryReceive(out var item))
                {
                    yield return item;
                }
                else if (!await tail.OutputAvailableAsync(cancellationToken).ConfigureAwait(false))
                {
                    break;
                }
            }

            await pipeline.Finished.ConfigureAwait(false);
            ThrowIfStopped(pipeline, options.Timeout, cancellationToken);
            Result(pipeline, feeder.Error, cancellationToken);
        }
        finally
        {
            // A consumer that stops early stops the run; a no-op when the run already finished.
            pipeline.Stop(StopReason.Disposed);
            await pipeline.Finished.ConfigureAwait(false);
        }
    }

    private static void ThrowIfStopped(Pipeline pipeline, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        switch (pipeline.StopReason)
        {
            case StopReason.Canceled:
                throw new OperationCanceledException(cancellationToken);
            case StopReason.Timeout:
                throw new TimeoutException($"The run stopped when its timeout ({timeout}) passed; the outputs so far were yielded.");
            case StopReason.Faulted:
                pipeline.ThrowIfFailed(cancellationToken);
                break;
        }
    }

    /// <summary>The end of a run: its fault, cancellation or input failure thrown, else its result.</summary>
    private static JobRunResult Result(Pipeline pipeline, Exception? inputError, CancellationToken cancellationToken)
    {
        pipeline.ThrowIfFailed(cancellationToken);
        if (inputError is not null)
        {
            ExceptionDispatchInfo.Throw(inputError);
        }

        return new JobRunResult(pipeline.StopReason == StopReason.None, pipeline.Snapshot());
    }

    private static Task<JobRunResult> ExecuteAsync<TIn, TOut>(
        Workers<TIn, TOut> workers,
        JobOptions options,
        Func<Pipeline, PipelineHead<TIn>, InputFeeder<TIn>> startFeeder,
        CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<JobRunResult>(cancellationToken);
        }

        Built<TIn, TOut> built;
        try
        {
            // Reads the user's clock (TimeProvider): what it throws comes through the task, as from an async method.
            built = PipelineBuilder.Build(workers, options, resizable: false, tail: false);
        }
        catch (Exception exception)
        {
            return Task.FromException<JobRunResult>(exception);
        }

        var pipeline = built.Pipeline;
        pipeline.Start(built.LastCompletion);
        var feeder = startFeeder(pipeline, built.Head);
        var timer = pipeline.StartTimeout(options.Timeout, pipeline.Created);
        var registration = cancellationToken.UnsafeRegister(static state => ((Pipeline)state!).Stop(StopReason.Canceled), pipeline);

        // Not an async method: it would end Canceled on any OperationCanceledException, the input's own included, which
        // must fault the task as the input's other exceptions do.
        var result = new TaskCompletionSource<JobRunResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        pipeline.Finished.ContinueWith(
            _ =>
            {
                pipeline.DisposeTimer(timer);
                registration.Dispose();
                try
                {
                    result.SetResult(Result(pipeline, feeder.Error, cancellationToken));
                }
                catch (OperationCanceledException) when (pipeline.StopReason == StopReason.Canceled && pipeline.Fault is null)
                {
                    result.SetCanceled(cancellationToken);
                }
                catch (Exception exception)
                {
                    result.SetException(exception);
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return result.Task;
    }
}
