using System.Runtime.CompilerServices;
using JobQ.Dataflow.Internal;

namespace JobQ.Dataflow;

/// <summary>
/// An immutable, typed worker list: items of type <typeparamref name="TIn"/> go in, the last stage passes on
/// items of type <typeparamref name="TOut"/>. Each <c>Then</c> returns a new list one stage longer.
/// </summary>
/// <typeparam name="TIn">The type of the items the first stage takes.</typeparam>
/// <typeparam name="TOut">The type of the items the last stage passes on.</typeparam>
/// <remarks>
/// <para>jobq's three worker forms map to the optional arguments: <c>f</c> is <c>Then(f)</c>, <c>(f, n)</c> is
/// <c>Then(f, n)</c> and <c>(f, n, dispatcher)</c> is <c>Then(f, n, dispatcher)</c>.</para>
/// <para>Sync workers run on dedicated threads (<c>threads</c> of them), so a worker that blocks gets its own
/// thread from its first item. Async workers (<c>Task</c>/<c>ValueTask</c>) hold no thread while they wait;
/// <c>threads</c> is then the number of calls awaited at once.</para>
/// <para>A list is immutable and thread-safe: it can be shared and run any number of times, even at once.</para>
/// </remarks>
public sealed class Workers<TIn, TOut>
{
    internal static readonly Workers<TIn, TOut> Empty = new([]);

    // A plain array, never mutated once built: each Then copies it one longer, which costs nothing that matters at
    // build time and keeps System.Collections.Immutable off a fresh process's start-up path.
    internal Workers(StageSpec[] stages) => Stages = stages;

    internal StageSpec[] Stages { get; }

    /// <summary>Gets the number of stages.</summary>
    public int Count => Stages.Length;

    /// <summary>Adds a one-to-one sync stage: each item becomes <paramref name="worker"/>'s result.</summary>
    /// <typeparam name="TNext">The type of the worker's results.</typeparam>
    /// <param name="worker">The worker; called on a dedicated thread. An exception is logged and drops that item.</param>
    /// <param name="threads">How many calls run at once (jobq's <c>nr_of_thread</c>); with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">
    /// Optional: maps an item to a partition; item goes to partition <c>dispatcher(item) mod threads</c> (never
    /// negative). Items of one partition are processed one at a time in arrival order, partitions run at once,
    /// and the stage passes results on in input order.
    /// </param>
    /// <param name="name">Optional stage name for stats and logs. Default: the worker's <c>Type.Method</c>.</param>
    /// <returns>A new worker list with the stage added.</returns>
    public Workers<TIn, TNext> Then<TNext>(Func<TOut, TNext> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new SyncWorker<TOut, TNext>(worker));
    }

    /// <summary>Adds a one-to-one sync stage whose worker may return <see cref="JobQueue.EmptyRst"/> to pass nothing on.</summary>
    /// <typeparam name="TNext">The type of the values the worker passes on.</typeparam>
    /// <param name="worker">The worker; called on a dedicated thread.</param>
    /// <param name="threads">How many calls run at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>.</param>
    /// <returns>A new worker list with the stage added.</returns>
    public Workers<TIn, TNext> Then<TNext>(Func<TOut, WorkerResult<TNext>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new SyncResultWorker<TOut, TNext>(worker));
    }

    /// <summary>Adds a sync stage that calls <paramref name="worker"/> and passes each item on unchanged.</summary>
    /// <param name="worker">The worker; called on a dedicated thread.</param>
    /// <param name="threads">How many calls run at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>.</param>
    /// <returns>A new worker list with the stage added; its output type is unchanged.</returns>
    /// <remarks>As the last stage this is jobq's <c>printarg</c>: the items passed on are discarded at the end of a run.</remarks>
    public Workers<TIn, TOut> Then(Action<TOut> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return Append<TOut>(worker, threads, dispatcher, name, _ => new SyncActionWorker<TOut>(worker));
    }

    /// <summary>Adds a one-to-one async stage; no thread is held while the worker awaits.</summary>
    /// <typeparam name="TNext">The type of the worker's results.</typeparam>
    /// <param name="worker">The worker. A faulted task is logged and drops that item.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>.</param>
    /// <returns>A new worker list with the stage added.</returns>
    [OverloadResolutionPriority(1)]
    public Workers<TIn, TNext> Then<TNext>(Func<TOut, Task<TNext>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new AsyncWorker<TOut, TNext>((item, _) => new ValueTask<TNext>(worker(item))));
    }

    /// <summary>Adds a one-to-one async stage whose worker receives the run's cancellation token.</summary>
    /// <typeparam name="TNext">The type of the worker's results.</typeparam>
    /// <param name="worker">The worker; the token is cancelled when the run times out or is cancelled.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>.</param>
    /// <returns>A new worker list with the stage added.</returns>
    [OverloadResolutionPriority(1)]
    public Workers<TIn, TNext> Then<TNext>(Func<TOut, CancellationToken, Task<TNext>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new AsyncWorker<TOut, TNext>((item, ct) => new ValueTask<TNext>(worker(item, ct))));
    }

    /// <summary>Adds a one-to-one async stage with a <see cref="ValueTask{TResult}"/> worker.</summary>
    /// <typeparam name="TNext">The type of the worker's results.</typeparam>
    /// <param name="worker">The worker.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>.</param>
    /// <returns>A new worker list with the stage added.</returns>
    public Workers<TIn, TNext> Then<TNext>(Func<TOut, ValueTask<TNext>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new AsyncWorker<TOut, TNext>((item, _) => worker(item)));
    }

    /// <summary>Adds a one-to-one async stage with a <see cref="ValueTask{TResult}"/> worker that receives the run's cancellation token.</summary>
    /// <typeparam name="TNext">The type of the worker's results.</typeparam>
    /// <param name="worker">The worker.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>.</param>
    /// <returns>A new worker list with the stage added.</returns>
    public Workers<TIn, TNext> Then<TNext>(Func<TOut, CancellationToken, ValueTask<TNext>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new AsyncWorker<TOut, TNext>(worker));
    }

    /// <summary>Adds an async stage whose worker may return <see cref="JobQueue.EmptyRst"/> to pass nothing on.</summary>
    /// <typeparam name="TNext">The type of the values the worker passes on.</typeparam>
    /// <param name="worker">The worker.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>.</param>
    /// <returns>A new worker list with the stage added.</returns>
    [OverloadResolutionPriority(1)]
    public Workers<TIn, TNext> Then<TNext>(Func<TOut, CancellationToken, Task<WorkerResult<TNext>>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new AsyncResultWorker<TOut, TNext>((item, ct) => new ValueTask<WorkerResult<TNext>>(worker(item, ct))));
    }

    /// <summary>Adds an async stage that awaits <paramref name="worker"/> and passes each item on unchanged.</summary>
    /// <param name="worker">The worker.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>.</param>
    /// <returns>A new worker list with the stage added; its output type is unchanged.</returns>
    [OverloadResolutionPriority(1)]
    public Workers<TIn, TOut> Then(Func<TOut, Task> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return Append<TOut>(worker, threads, dispatcher, name, _ => new AsyncActionWorker<TOut>((item, _) => worker(item)));
    }

    /// <summary>Adds an async stage that awaits <paramref name="worker"/> (given the run's token) and passes each item on unchanged.</summary>
    /// <param name="worker">The worker.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>.</param>
    /// <returns>A new worker list with the stage added; its output type is unchanged.</returns>
    [OverloadResolutionPriority(1)]
    public Workers<TIn, TOut> Then(Func<TOut, CancellationToken, Task> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return Append<TOut>(worker, threads, dispatcher, name, _ => new AsyncActionWorker<TOut>(worker));
    }

    /// <summary>Adds a speed-limit stage (jobq's <c>limit_job_speed</c>): items pass unchanged, paced; no thread waits.</summary>
    /// <param name="limit">The limit, from <see cref="JobQueue.LimitJobSpeed(double, int)"/>.</param>
    /// <param name="name">Optional stage name. Default: <c>LimitJobSpeed</c>.</param>
    /// <returns>A new worker list with the stage added; its output type is unchanged.</returns>
    public Workers<TIn, TOut> Then(SpeedLimit limit, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(limit);
        return new Workers<TIn, TOut>([.. Stages, new StageSpec<TOut, TOut>(name ?? nameof(JobQueue.LimitJobSpeed), 1, null, null, null, speedLimit: limit)]);
    }

    /// <summary>
    /// Adds a one-to-many sync stage (jobq's generator worker): every element the worker's sequence yields goes
    /// on as its own item. Under keepOrder, one call's elements stay together in input order.
    /// </summary>
    /// <typeparam name="TNext">The type of the elements.</typeparam>
    /// <param name="worker">The worker; called on a dedicated thread. If the sequence throws midway, elements yielded before go on.</param>
    /// <param name="threads">How many calls run at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>.</param>
    /// <returns>A new worker list with the stage added.</returns>
    /// <remarks>Separate from <c>Then</c> on purpose: a worker returning a <c>List&lt;T&gt;</c> as data is never expanded by accident.</remarks>
    public Workers<TIn, TNext> ThenMany<TNext>(Func<TOut, IEnumerable<TNext>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new SyncManyWorker<TOut, TNext>(worker));
    }

    /// <summary>Adds a one-to-many async stage: every element of the worker's async sequence goes on as its own item.</summary>
    /// <typeparam name="TNext">The type of the elements.</typeparam>
    /// <param name="worker">The worker.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>.</param>
    /// <returns>A new worker list with the stage added.</returns>
    public Workers<TIn, TNext> ThenMany<TNext>(Func<TOut, IAsyncEnumerable<TNext>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new AsyncManyWorker<TOut, TNext>((item, _) => worker(item)));
    }

    /// <summary>Adds a one-to-many async stage whose worker receives the run's cancellation token.</summary>
    /// <typeparam name="TNext">The type of the elements.</typeparam>
    /// <param name="worker">The worker.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>.</param>
    /// <returns>A new worker list with the stage added.</returns>
    public Workers<TIn, TNext> ThenMany<TNext>(Func<TOut, CancellationToken, IAsyncEnumerable<TNext>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new AsyncManyWorker<TOut, TNext>(worker));
    }

    /// <summary>
    /// Wraps every call of the last stage added in a Polly resilience pipeline: retries with backoff, a per-call
    /// timeout, a circuit breaker. Only when it gives up does the run's <see cref="ErrorPolicy"/> see the failure.
    /// </summary>
    /// <param name="resilience">The resilience pipeline; it may be shared by several stages (a circuit breaker is then shared too).</param>
    /// <returns>A new worker list whose last stage is wrapped.</returns>
    /// <exception cref="InvalidOperationException">The list has no stage yet.</exception>
    /// <remarks>Outputs of a failed attempt are discarded, so a retried generator never passes an element twice. A
    /// per-call timeout can cancel only async workers, through their <see cref="CancellationToken"/>.</remarks>
    public Workers<TIn, TOut> WithResilience(Polly.ResiliencePipeline resilience)
    {
        ArgumentNullException.ThrowIfNull(resilience);
        if (Stages.Length == 0)
        {
            throw new InvalidOperationException("WithResilience applies to the last stage added; add a stage with Then first.");
        }

        StageSpec[] stages = [.. Stages[..^1], Stages[^1].WithResilience(new StageResilience(resilience))];
        return new Workers<TIn, TOut>(stages);
    }

    private Workers<TIn, TNext> Append<TNext>(
        Delegate? worker,
        int threads,
        Func<TOut, int>? dispatcher,
        string? name,
        Func<Pipeline, StageWorker<TOut, TNext>> factory)
    {
        var index = Stages.Length;
        var stageName = name ?? DescribeDelegate(worker, index);
        if (threads <= 0)
        {
            throw new ArgumentOutOfRangeException(
                nameof(threads),
                threads,
                $"Stage {index} ('{stageName}'): threads must be positive; it was {threads}.");
        }

        var spec = new StageSpec<TOut, TNext>(stageName, threads, worker, factory, dispatcher);
        return new Workers<TIn, TNext>([.. Stages, spec]);
    }

    private static string DescribeDelegate(Delegate? worker, int index)
    {
        var method = worker?.Method;
        if (method is null || method.Name.Contains('<', StringComparison.Ordinal) || method.DeclaringType is null)
        {
            return $"stage{index}";
        }

        return $"{method.DeclaringType.Name}.{method.Name}";
    }
}
