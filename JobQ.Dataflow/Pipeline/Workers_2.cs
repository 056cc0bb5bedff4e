using System.Diagnostics.CodeAnalysis;
using System.ComponentModel;
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
/// <para>Each form binds by what the worker returns, for methods and lambdas alike: a value is passed on; a
/// <see cref="WorkerResult{T}"/> is passed on unless it is <see cref="JobQueue.EmptyRst"/>; nothing (<c>void</c>,
/// <c>Task</c>, <c>ValueTask</c>) passes the item on unchanged once the call has finished; a <c>Task</c> or
/// <c>ValueTask</c> of a value or of a <see cref="WorkerResult{T}"/> is awaited first; sequences go through
/// <c>ThenMany</c>. The token forms receive the run's <see cref="CancellationToken"/>. A stage whose output would be a
/// task or a <see cref="WorkerResult{T}"/> itself (from code that hides the worker's type, such as a generic helper) is
/// refused with an <see cref="ArgumentException"/> when it is added.</para>
/// <para>A list is immutable and thread-safe: it can be shared and run any number of times, even at once.</para>
/// </remarks>
public sealed class Workers<TIn, TOut>
{
    // Overload priorities: Task forms (4 without a token, 3 with one) over ValueTask and IAsyncEnumerable forms (2, 1)
    // over sync forms (0, -1). An async or throwing lambda converts to every return type and binds to a Task form; a
    // method group with a form without and a form with a token (BlockingCollection.Add, HttpClient.GetStringAsync)
    // binds to the one without.
    internal static readonly Workers<TIn, TOut> Empty = new([]);

    // A plain array, never mutated once built: each Then copies it one longer, which costs nothing that matters at
    // build time and keeps System.Collections.Immutable off a fresh process's start-up path.
    internal Workers(StageSpec[] stages) => Stages = stages;

    internal StageSpec[] Stages { get; }

    /// <summary>Gets the number of stages.</summary>
    public int Count => Stages.Length;

    /// <summary>Adds a one-to-one sync stage: each item becomes <paramref name="worker"/>'s result.</summary>
    /// <typeparam name="TNext">The type of the worker's results.</typeparam>
    /// <param name="worker">The worker; called on dedicated threads, or on the pool once its calls prove cheap. An exception goes to
    /// <see cref="JobOptions.ErrorPolicy"/> (by default logged, and the item dropped).</param>
    /// <param name="threads">How many calls run at once (jobq's <c>nr_of_thread</c>); with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">
    /// Optional: maps an item to a partition; item goes to partition <c>dispatcher(item) mod threads</c> (never
    /// negative). Items of one partition are processed one at a time in arrival order, partitions run at once,
    /// and the stage passes results on in input order.
    /// </param>
    /// <param name="name">Optional stage name for stats and logs. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    public Workers<TIn, TNext> Then<TNext>(Func<TOut, TNext> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new SyncWorker<TOut, TNext>(worker));
    }

    /// <summary>Adds a one-to-one sync stage whose worker receives the run's cancellation token, cancelled when the run stops.</summary>
    /// <typeparam name="TNext">The type of the worker's results.</typeparam>
    /// <param name="worker">The worker; called on dedicated threads (on the pool once its calls prove cheap). A long computation may check the token to end early
    /// once the run stops; what it returns then is discarded.</param>
    /// <param name="threads">How many calls run at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    [OverloadResolutionPriority(-1)]
    public Workers<TIn, TNext> Then<TNext>(Func<TOut, CancellationToken, TNext> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, pipeline => new SyncWorker<TOut, TNext>(item => worker(item, pipeline.Token)));
    }

    /// <summary>Adds a one-to-one sync stage whose worker may return <see cref="JobQueue.EmptyRst"/> to pass nothing on.</summary>
    /// <typeparam name="TNext">The type of the values the worker passes on.</typeparam>
    /// <param name="worker">The worker; called on dedicated threads (on the pool once its calls prove cheap).</param>
    /// <param name="threads">How many calls run at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    /// <remarks>A lambda <c>x =&gt; x % 2 == 0 ? JobQueue.EmptyRst : x</c> has no type of its own (its two branches
    /// have none in common), so C# cannot infer <typeparamref name="TNext"/>: give it, <c>Then&lt;int&gt;(x =&gt; x % 2 == 0 ?
    /// JobQueue.EmptyRst : x)</c>, or give the lambda its return type, <c>Then(WorkerResult&lt;int&gt; (x) =&gt; ...)</c>.</remarks>
    public Workers<TIn, TNext> Then<TNext>(Func<TOut, WorkerResult<TNext>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new SyncResultWorker<TOut, TNext>(worker));
    }

    /// <summary>Adds a one-to-one sync stage whose worker receives the run's cancellation token and may return <see cref="JobQueue.EmptyRst"/>.</summary>
    /// <typeparam name="TNext">The type of the values the worker passes on.</typeparam>
    /// <param name="worker">The worker; called on dedicated threads (on the pool once its calls prove cheap).</param>
    /// <param name="threads">How many calls run at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    [OverloadResolutionPriority(-1)]
    public Workers<TIn, TNext> Then<TNext>(Func<TOut, CancellationToken, WorkerResult<TNext>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, pipeline => new SyncResultWorker<TOut, TNext>(item => worker(item, pipeline.Token)));
    }

    /// <summary>
    /// Refused when compiled: a worker that returns only <see cref="JobQueue.EmptyRst"/> (jobq's black-hole worker)
    /// has <see cref="EmptyResult"/> as its output type, so <c>EmptyRst</c> would go on as data. The compiler's message
    /// says what to write: <c>Then&lt;T&gt;(x =&gt; JobQueue.EmptyRst)</c>.
    /// </summary>
    /// <param name="worker">The worker.</param>
    /// <param name="threads">Unused.</param>
    /// <param name="dispatcher">Unused.</param>
    /// <param name="name">Unused.</param>
    /// <returns>Never returns.</returns>
    [Obsolete(
        "This worker returns only JobQueue.EmptyRst, so its output type would be EmptyResult and EmptyRst would go on as data. "
        + "Give the output type, Then<T>(x => JobQueue.EmptyRst), to drop every item as jobq's black-hole worker does.",
        error: true)]
    [EditorBrowsable(EditorBrowsableState.Never)]
    public Workers<TIn, EmptyResult> Then(Func<TOut, EmptyResult> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
        => throw new NotSupportedException("Give the worker's output type: Then<T>(x => JobQueue.EmptyRst).");

    /// <summary>Adds a sync stage that calls <paramref name="worker"/> and passes each item on unchanged.</summary>
    /// <param name="worker">The worker; called on dedicated threads (on the pool once its calls prove cheap).</param>
    /// <param name="threads">How many calls run at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added; its output type is unchanged.</returns>
    /// <remarks>As the last stage this is jobq's <c>printarg</c>: the items passed on are discarded at the end of a run.</remarks>
    public Workers<TIn, TOut> Then(Action<TOut> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TOut>(worker, threads, dispatcher, name, _ => new SyncActionWorker<TOut>(worker), passesItemsOn: true);
    }

    /// <summary>Adds a sync stage that calls <paramref name="worker"/> with the run's cancellation token and passes each item on unchanged.</summary>
    /// <param name="worker">The worker; called on dedicated threads (on the pool once its calls prove cheap).</param>
    /// <param name="threads">How many calls run at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added; its output type is unchanged.</returns>
    [OverloadResolutionPriority(-1)]
    public Workers<TIn, TOut> Then(Action<TOut, CancellationToken> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TOut>(worker, threads, dispatcher, name, pipeline => new SyncActionWorker<TOut>(item => worker(item, pipeline.Token)), passesItemsOn: true);
    }

    /// <summary>Adds a one-to-one async stage; no thread is held while the worker awaits.</summary>
    /// <typeparam name="TNext">The type of the worker's results.</typeparam>
    /// <param name="worker">The worker. A faulted task is logged and drops that item.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    [OverloadResolutionPriority(4)]
    public Workers<TIn, TNext> Then<TNext>(Func<TOut, Task<TNext>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new AsyncWorker<TOut, TNext>((item, _) => WorkerReturned.Task(worker(item))));
    }

    /// <summary>Adds a one-to-one async stage whose worker receives the run's cancellation token.</summary>
    /// <typeparam name="TNext">The type of the worker's results.</typeparam>
    /// <param name="worker">The worker; the token is cancelled when the run stops: a timeout, a cancellation, a fail-fast
    /// failure or <c>Dispose</c>.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    [OverloadResolutionPriority(3)]
    public Workers<TIn, TNext> Then<TNext>(Func<TOut, CancellationToken, Task<TNext>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new AsyncWorker<TOut, TNext>((item, ct) => WorkerReturned.Task(worker(item, ct))));
    }

    /// <summary>Adds a one-to-one async stage with a <see cref="ValueTask{TResult}"/> worker.</summary>
    /// <typeparam name="TNext">The type of the worker's results.</typeparam>
    /// <param name="worker">The worker.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    [OverloadResolutionPriority(2)]
    public Workers<TIn, TNext> Then<TNext>(Func<TOut, ValueTask<TNext>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new AsyncWorker<TOut, TNext>((item, _) => worker(item)));
    }

    /// <summary>Adds a one-to-one async stage with a <see cref="ValueTask{TResult}"/> worker that receives the run's cancellation token.</summary>
    /// <typeparam name="TNext">The type of the worker's results.</typeparam>
    /// <param name="worker">The worker.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    [OverloadResolutionPriority(1)]
    public Workers<TIn, TNext> Then<TNext>(Func<TOut, CancellationToken, ValueTask<TNext>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new AsyncWorker<TOut, TNext>(worker));
    }

    /// <summary>Adds an async stage whose worker may return <see cref="JobQueue.EmptyRst"/> to pass nothing on.</summary>
    /// <typeparam name="TNext">The type of the values the worker passes on.</typeparam>
    /// <param name="worker">The worker.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    [OverloadResolutionPriority(3)]
    public Workers<TIn, TNext> Then<TNext>(Func<TOut, CancellationToken, Task<WorkerResult<TNext>>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new AsyncResultWorker<TOut, TNext>((item, ct) => WorkerReturned.Task(worker(item, ct))));
    }

    /// <summary>Adds an async stage whose worker may return <see cref="JobQueue.EmptyRst"/> to pass nothing on.</summary>
    /// <typeparam name="TNext">The type of the values the worker passes on.</typeparam>
    /// <param name="worker">The worker.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    /// <remarks>An async lambda whose branches return <c>EmptyRst</c> and a plain value binds here when the output type is
    /// given: <c>Then&lt;int&gt;(async x =&gt; { await ...; return x % 2 == 0 ? JobQueue.EmptyRst : x; })</c>.</remarks>
    [OverloadResolutionPriority(4)]
    public Workers<TIn, TNext> Then<TNext>(Func<TOut, Task<WorkerResult<TNext>>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new AsyncResultWorker<TOut, TNext>((item, _) => WorkerReturned.Task(worker(item))));
    }

    /// <summary>Adds an async stage with a <see cref="ValueTask{TResult}"/> worker that may return <see cref="JobQueue.EmptyRst"/> to pass nothing on.</summary>
    /// <typeparam name="TNext">The type of the values the worker passes on.</typeparam>
    /// <param name="worker">The worker.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    [OverloadResolutionPriority(2)]
    public Workers<TIn, TNext> Then<TNext>(Func<TOut, ValueTask<WorkerResult<TNext>>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new AsyncResultWorker<TOut, TNext>((item, _) => worker(item)));
    }

    /// <summary>
    /// Adds an async stage with a <see cref="ValueTask{TResult}"/> worker that receives the run's cancellation token and may
    /// return <see cref="JobQueue.EmptyRst"/> to pass nothing on.
    /// </summary>
    /// <typeparam name="TNext">The type of the values the worker passes on.</typeparam>
    /// <param name="worker">The worker; the token is cancelled when the run stops: a timeout, a cancellation, a fail-fast
    /// failure or <c>Dispose</c>.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    [OverloadResolutionPriority(1)]
    public Workers<TIn, TNext> Then<TNext>(Func<TOut, CancellationToken, ValueTask<WorkerResult<TNext>>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new AsyncResultWorker<TOut, TNext>(worker));
    }

    /// <summary>Adds an async stage that awaits <paramref name="worker"/> and passes each item on unchanged.</summary>
    /// <param name="worker">The worker.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added; its output type is unchanged.</returns>
    [OverloadResolutionPriority(4)]
    public Workers<TIn, TOut> Then(Func<TOut, Task> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TOut>(worker, threads, dispatcher, name, _ => new AsyncActionWorker<TOut>((item, _) => WorkerReturned.Task(worker(item))), passesItemsOn: true);
    }

    /// <summary>Adds an async stage that awaits <paramref name="worker"/> (given the run's token) and passes each item on unchanged.</summary>
    /// <param name="worker">The worker.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added; its output type is unchanged.</returns>
    [OverloadResolutionPriority(3)]
    public Workers<TIn, TOut> Then(Func<TOut, CancellationToken, Task> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TOut>(worker, threads, dispatcher, name, _ => new AsyncActionWorker<TOut>((item, ct) => WorkerReturned.Task(worker(item, ct))), passesItemsOn: true);
    }

    /// <summary>Adds an async stage that awaits <paramref name="worker"/>'s <see cref="ValueTask"/> and passes each item on unchanged.</summary>
    /// <param name="worker">The worker. A faulted call is logged and drops that item.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added; its output type is unchanged.</returns>
    [OverloadResolutionPriority(2)]
    public Workers<TIn, TOut> Then(Func<TOut, ValueTask> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        // AsTask costs nothing for a ValueTask that completed or wraps a task (what an async method returns), and lets
        // both action forms share one adapter.
        return Append<TOut>(worker, threads, dispatcher, name, _ => new AsyncActionWorker<TOut>((item, _) => worker(item).AsTask()), passesItemsOn: true);
    }

    /// <summary>Adds an async stage that awaits <paramref name="worker"/>'s <see cref="ValueTask"/> (given the run's token) and passes each item on unchanged.</summary>
    /// <param name="worker">The worker; the token is cancelled when the run stops: a timeout, a cancellation, a fail-fast
    /// failure or <c>Dispose</c>.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added; its output type is unchanged.</returns>
    [OverloadResolutionPriority(1)]
    public Workers<TIn, TOut> Then(Func<TOut, CancellationToken, ValueTask> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TOut>(worker, threads, dispatcher, name, _ => new AsyncActionWorker<TOut>((item, ct) => worker(item, ct).AsTask()), passesItemsOn: true);
    }

    /// <summary>Adds a speed-limit stage (jobq's <c>limit_job_speed</c>): items pass unchanged, paced; no thread waits.</summary>
    /// <param name="limit">The limit, from <see cref="JobQueue.LimitJobSpeed(double, int)"/>.</param>
    /// <param name="name">Optional stage name. Default: <c>LimitJobSpeed</c>.</param>
    /// <returns>A new worker list with the stage added; its output type is unchanged.</returns>
    public Workers<TIn, TOut> Then(SpeedLimit limit, string? name = null)
    {
        ThrowIfNull(limit);
        ThrowIfEmptyName(name, Stages.Length);
        return new Workers<TIn, TOut>([.. Stages, new StageSpec<TOut, TOut>(name ?? nameof(JobQueue.LimitJobSpeed), 1, null, null, null, speedLimit: limit)]);
    }

    /// <summary>
    /// Adds a one-to-many sync stage (jobq's generator worker): every element the worker's sequence yields goes
    /// on as its own item. Under keepOrder, one call's elements stay together in input order.
    /// </summary>
    /// <typeparam name="TNext">The type of the elements.</typeparam>
    /// <param name="worker">The worker; called on dedicated threads (on the pool once its calls prove cheap). If the sequence throws midway, elements yielded before go on.</param>
    /// <param name="threads">How many calls run at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    /// <remarks>Separate from <c>Then</c> on purpose: a worker returning a <c>List&lt;T&gt;</c> as data is never expanded by accident.</remarks>
    public Workers<TIn, TNext> ThenMany<TNext>(Func<TOut, IEnumerable<TNext>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new SyncManyWorker<TOut, TNext>(worker));
    }

    /// <summary>Adds a one-to-many sync stage whose worker receives the run's cancellation token; see <see cref="ThenMany{TNext}(Func{TOut, IEnumerable{TNext}}, int, Func{TOut, int}?, string?)"/>.</summary>
    /// <typeparam name="TNext">The type of the elements.</typeparam>
    /// <param name="worker">The worker; its sequence is enumerated on a dedicated thread.</param>
    /// <param name="threads">How many calls run at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    [OverloadResolutionPriority(-1)]
    public Workers<TIn, TNext> ThenMany<TNext>(Func<TOut, CancellationToken, IEnumerable<TNext>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, pipeline => new SyncManyWorker<TOut, TNext>(item => worker(item, pipeline.Token)));
    }

    /// <summary>Adds a one-to-many async stage: every element of the worker's async sequence goes on as its own item.</summary>
    /// <typeparam name="TNext">The type of the elements.</typeparam>
    /// <param name="worker">The worker.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    [OverloadResolutionPriority(2)]
    public Workers<TIn, TNext> ThenMany<TNext>(Func<TOut, IAsyncEnumerable<TNext>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new AsyncManyWorker<TOut, TNext>((item, _) => WorkerReturned.Sequence(worker(item))));
    }

    /// <summary>Adds a one-to-many async stage whose worker receives the run's cancellation token.</summary>
    /// <typeparam name="TNext">The type of the elements.</typeparam>
    /// <param name="worker">The worker.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    [OverloadResolutionPriority(1)]
    public Workers<TIn, TNext> ThenMany<TNext>(Func<TOut, CancellationToken, IAsyncEnumerable<TNext>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new AsyncManyWorker<TOut, TNext>((item, ct) => WorkerReturned.Sequence(worker(item, ct))));
    }

    /// <summary>
    /// Adds a one-to-many sync stage whose generator may yield <see cref="JobQueue.EmptyRst"/>, as jobq's generators may:
    /// those values are skipped, and every other value goes on as its own item. A call that yields no value counts as dropped.
    /// </summary>
    /// <typeparam name="TNext">The type of the values.</typeparam>
    /// <param name="worker">The worker; called on dedicated threads (on the pool once its calls prove cheap).</param>
    /// <param name="threads">How many calls run at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    public Workers<TIn, TNext> ThenMany<TNext>(Func<TOut, IEnumerable<WorkerResult<TNext>>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new SyncManyWorker<TOut, TNext>(item => WorkerReturned.Values(worker(item))));
    }

    /// <summary>Adds a one-to-many sync stage whose worker receives the run's cancellation token and may yield <see cref="JobQueue.EmptyRst"/>, which is skipped.</summary>
    /// <typeparam name="TNext">The type of the values.</typeparam>
    /// <param name="worker">The worker; its sequence is enumerated on a dedicated thread.</param>
    /// <param name="threads">How many calls run at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    [OverloadResolutionPriority(-1)]
    public Workers<TIn, TNext> ThenMany<TNext>(Func<TOut, CancellationToken, IEnumerable<WorkerResult<TNext>>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, pipeline => new SyncManyWorker<TOut, TNext>(item => WorkerReturned.Values(worker(item, pipeline.Token))));
    }

    /// <summary>Adds a one-to-many async stage whose async sequence may yield <see cref="JobQueue.EmptyRst"/>, which is skipped.</summary>
    /// <typeparam name="TNext">The type of the values.</typeparam>
    /// <param name="worker">The worker.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    [OverloadResolutionPriority(2)]
    public Workers<TIn, TNext> ThenMany<TNext>(Func<TOut, IAsyncEnumerable<WorkerResult<TNext>>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new AsyncManyWorker<TOut, TNext>((item, ct) => WorkerReturned.Values(worker(item), ct)));
    }

    /// <summary>Adds a one-to-many async stage whose worker receives the run's cancellation token and may yield <see cref="JobQueue.EmptyRst"/>, which is skipped.</summary>
    /// <typeparam name="TNext">The type of the values.</typeparam>
    /// <param name="worker">The worker.</param>
    /// <param name="threads">How many calls are awaited at once; with a dispatcher, the number of partitions. Default 1.</param>
    /// <param name="dispatcher">Optional partitioner; see <see cref="Then{TNext}(Func{TOut, TNext}, int, Func{TOut, int}?, string?)"/>.</param>
    /// <param name="name">Optional stage name. Default: the worker's <c>Type.Method</c>, or <c>stageN</c> for a lambda (N its index from 0).</param>
    /// <returns>A new worker list with the stage added.</returns>
    [OverloadResolutionPriority(1)]
    public Workers<TIn, TNext> ThenMany<TNext>(Func<TOut, CancellationToken, IAsyncEnumerable<WorkerResult<TNext>>> worker, int threads = 1, Func<TOut, int>? dispatcher = null, string? name = null)
    {
        ThrowIfNull(worker);
        return Append<TNext>(worker, threads, dispatcher, name, _ => new AsyncManyWorker<TOut, TNext>((item, ct) => WorkerReturned.Values(worker(item, ct), ct)));
    }

    /// <summary>
    /// Wraps every call of the last stage added in a Polly resilience pipeline: retries with backoff, a per-call
    /// timeout, a circuit breaker. Only when it gives up does the run's <see cref="ErrorPolicy"/> see the failure.
    /// </summary>
    /// <param name="resilience">The resilience pipeline; it may be shared by several stages (a circuit breaker is then shared too).</param>
    /// <returns>A new worker list whose last stage is wrapped.</returns>
    /// <exception cref="InvalidOperationException">The list has no stage yet, or its last stage calls no worker (a speed limit).</exception>
    /// <remarks>Outputs of a failed attempt are discarded, so a retried generator never passes an element twice. A
    /// per-call timeout can cancel only async workers, through their <see cref="CancellationToken"/>.</remarks>
    public Workers<TIn, TOut> WithResilience(Polly.ResiliencePipeline resilience)
    {
        ArgumentNullException.ThrowIfNull(resilience);
        if (Stages.Length == 0)
        {
            throw new InvalidOperationException("WithResilience applies to the last stage added; add a stage with Then first.");
        }

        if (Stages[^1].UserDelegate is null)
        {
            throw new InvalidOperationException(
                $"Stage {Stages.Length - 1} ('{Stages[^1].Name}') calls no worker, so a resilience pipeline there would never run; "
                + "call WithResilience right after the Then that adds the worker.");
        }

        StageSpec[] stages = [.. Stages[..^1], Stages[^1].WithResilience(new StageResilience(resilience))];
        return new Workers<TIn, TOut>(stages);
    }

    /// <summary>Refuses a null argument of the stage about to be added, naming that stage.</summary>
    private void ThrowIfNull([NotNull] object? argument, [CallerArgumentExpression(nameof(argument))] string? paramName = null)
    {
        if (argument is null)
        {
            throw new ArgumentNullException(paramName, $"Stage {Stages.Length}: the {paramName} is null.");
        }
    }

    private static void ThrowIfEmptyName(string? name, int index)
    {
        if (name is not null && string.IsNullOrWhiteSpace(name))
        {
            throw new ArgumentException($"Stage {index}: a stage name must not be empty or white space; it was \"{name}\". Leave it null for the default name.", nameof(name));
        }
    }

    /// <summary>Checks a new stage and returns the list one stage longer.</summary>
    /// <remarks>
    /// <c>passesItemsOn</c> says that the stage passes on the items it receives (actions, speed limits) rather than values
    /// its worker makes: its output type is then the input's, which the user chose, so it is not checked for tasks.
    /// </remarks>
    private Workers<TIn, TNext> Append<TNext>(
        Delegate? worker,
        int threads,
        Func<TOut, int>? dispatcher,
        string? name,
        Func<Pipeline, StageWorker<TOut, TNext>> factory,
        bool passesItemsOn = false)
    {
        var index = Stages.Length;
        ThrowIfEmptyName(name, index);
        var stageName = name ?? DescribeDelegate(worker, index);

        // An async void worker (an async lambda typed as an Action, or an async void method) cannot be awaited: each item
        // would go on before its work is done, and an exception it throws would end the process.
        if (worker is Action<TOut> or Action<TOut, CancellationToken> && worker.Method.IsDefined(typeof(AsyncStateMachineAttribute), inherit: false))
        {
            var fix = worker is Action<TOut> ? $"Func<{Workers.TypeName(typeof(TOut))}, Task>" : $"Func<{Workers.TypeName(typeof(TOut))}, CancellationToken, Task>";
            throw new ArgumentException(
                $"Stage {index} ('{stageName}'): the worker is async void, so the stage cannot await it: each item would "
                + $"go on before its work is done, and an exception it throws would end the process. Give it as a {fix} "
                + "(declare the method async Task, or type the lambda as that Func).",
                nameof(worker));
        }

        if (threads is <= 0 or > JobOptions.MaxThreads)
        {
            throw new ArgumentOutOfRangeException(
                nameof(threads),
                threads,
                $"Stage {index} ('{stageName}'): threads must be between 1 and {JobOptions.MaxThreads} (JobOptions.MaxThreads); it was {threads}.");
        }

        if (!passesItemsOn && (OutputTypeProblem(typeof(TNext)) ?? SequenceProblem(typeof(TNext))) is { } problem)
        {
            throw new ArgumentException($"Stage {index} ('{stageName}'): {problem}", nameof(worker));
        }

        var spec = new StageSpec<TOut, TNext>(stageName, threads, worker, factory, dispatcher);
        return new Workers<TIn, TNext>([.. Stages, spec]);
    }

    /// <summary>
    /// Says what is wrong, and the fix, when a stage would pass on as data what only makes sense to await (a task) or to
    /// unwrap (a <see cref="WorkerResult{T}"/>, <see cref="EmptyResult"/>); null when the output type is fine. Every
    /// worker form binds to an overload that awaits or unwraps, so such a stage comes from code that hides the worker's
    /// type, such as a generic helper or an explicit type argument.
    /// </summary>
    private static string? OutputTypeProblem(Type output)
    {
        if (output.IsGenericType)
        {
            var definition = output.GetGenericTypeDefinition();
            if (definition == typeof(Task<>) || definition == typeof(ValueTask<>))
            {
                var (item, shown, result) = (Workers.TypeName(typeof(TOut)), Workers.TypeName(output), Workers.TypeName(output.GetGenericArguments()[0]));
                return $"its output type is {shown}, so each task would be passed to the next stage as data, never awaited. "
                    + $"Give the worker as a Func<{item}, Task<{result}>> or a Func<{item}, ValueTask<{result}>>, with or without a "
                    + "CancellationToken, so that the stage awaits each call and passes its result on: declare it async, or, if it already is, "
                    + "await the task it returns (Unwrap the task of Task.Factory.StartNew with an async delegate).";
            }

            if (definition == typeof(WorkerResult<>))
            {
                var (item, shown, value) = (Workers.TypeName(typeof(TOut)), Workers.TypeName(output), Workers.TypeName(output.GetGenericArguments()[0]));
                return $"its output type is {shown}, which a stage never passes on. Return WorkerResult<{value}> from a worker declared so "
                    + $"(a Func<{item}, WorkerResult<{value}>>, or its Task or ValueTask form): the stage then drops the item on EmptyRst "
                    + $"and passes any other result on as {value}.";
            }
        }

        if (output == typeof(EmptyResult))
        {
            return $"its output type is {nameof(EmptyResult)}, so EmptyRst would be passed on as data instead of dropping the item. Declare the worker "
                + "to return WorkerResult<T>, for example Then<T>(x => JobQueue.EmptyRst).";
        }

        if (output == typeof(ValueTask) || typeof(Task).IsAssignableFrom(output))
        {
            var (item, shown) = (Workers.TypeName(typeof(TOut)), Workers.TypeName(output));
            var awaitable = output == typeof(ValueTask) ? "ValueTask" : "Task";
            return $"its output type is {shown}, so each task would be passed to the next stage as data, never awaited. "
                + $"Give the worker as a Func<{item}, {awaitable}> (or a Func<{item}, CancellationToken, {awaitable}>): "
                + "the stage then awaits each call and passes the item on unchanged.";
        }

        return null;
    }

    /// <summary>Returns whether a stage with this output type would pass on as data what only makes sense to await or unwrap.</summary>
    /// <summary>
    /// Says what is wrong when <c>Then</c> would pass a lazy sequence on as one item: what a jobq generator worker
    /// expands, and a yield iterator that would not even run until the next stage enumerated it. A materialized
    /// collection (a list, an array) passes as data.
    /// </summary>
    private static string? SequenceProblem(Type output)
    {
        if (!output.IsGenericType || (output.GetGenericTypeDefinition() != typeof(IEnumerable<>) && output.GetGenericTypeDefinition() != typeof(IAsyncEnumerable<>)))
        {
            return null;
        }

        var (shown, element) = (Workers.TypeName(output), Workers.TypeName(output.GetGenericArguments()[0]));
        return $"its output type is {shown}, so each sequence would be passed to the next stage as one item, never expanded. "
            + $"To pass each element on as its own item, as jobq does with a generator worker, add the stage with ThenMany; to pass "
            + $"the sequence itself on as one item, return a collection (List<{element}> or {element}[]).";
    }

    internal static bool IsAwaitableOrResult(Type output) => OutputTypeProblem(output) is not null;

    private static string DescribeDelegate(Delegate? worker, int index)
        => worker is null ? $"stage{index}" : Workers.MethodName(worker) ?? $"stage{index}";
}
