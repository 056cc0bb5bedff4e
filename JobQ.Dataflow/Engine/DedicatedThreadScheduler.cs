namespace JobQ.Dataflow.Internal;

/// <summary>
/// The <see cref="DataflowBlockOptions.TaskScheduler"/> of a stage with blocking workers: every task runs at
/// once on a thread of its own (an idle <see cref="DedicatedThread"/> or a new one) while fewer than
/// its limit of its tasks run on such threads, otherwise on the thread pool. It never queues.
/// </summary>
/// <remarks>
/// <para>Dataflow runs a block's processing tasks and its hand-off (offer) tasks on the block's scheduler. The block's
/// <c>MaxDegreeOfParallelism</c> already caps its processing tasks, so the scheduler need not tell them apart: with a
/// limit above the stage's thread count (a worker stage's has none), every processing task gets a dedicated thread
/// from the stage's first item (blocking calls never wait for the thread pool to inject threads), and a hand-off task
/// never waits behind blocked calls, because a task that finds every dedicated thread busy runs on the pool.</para>
/// <para>Once the stage's calls have been measured cheap (<see cref="RunLength.IsCheap"/>), tasks go to the pool, where
/// the hand-off to the next stage often runs on the same thread.</para>
/// </remarks>
internal sealed class DedicatedThreadScheduler : TaskScheduler
{
    private readonly RunLength? _cost;
    private readonly int _limit;
    private int _running;

    /// <param name="threadName">The name of a thread while it runs this scheduler's tasks.</param>
    /// <param name="limit">How many of this scheduler's tasks may run on dedicated threads at once.</param>
    /// <param name="cost">The stage's measured cost; while it reads cheap, tasks run on the pool. Null: always dedicated.</param>
    public DedicatedThreadScheduler(string threadName, int limit, RunLength? cost = null)
    {
        ThreadName = threadName;
        _limit = limit;
        _cost = cost;
    }

    /// <summary>Gets the name of a thread while it runs this scheduler's tasks.</summary>
    public string ThreadName { get; }

    /// <summary>Gets how many of this scheduler's tasks run on dedicated threads now.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>Runs <paramref name="task"/> on the calling dedicated thread; called by <see cref="DedicatedThread"/> only.</summary>
    internal void RunOnThread(Task task)
    {
        try
        {
            TryExecuteTask(task);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    protected override void QueueTask(Task task)
    {
        if (_cost is not { IsCheap: true })
        {
            if (Interlocked.Increment(ref _running) <= _limit)
            {
                DedicatedThread.Run(this, task);
                return;
            }

            Interlocked.Decrement(ref _running);
        }

        ThreadPool.UnsafeQueueUserWorkItem(PoolWorkItem.Rent(this, task), preferLocal: true);
    }

    /// <summary>
    /// Runs <paramref name="body"/> on the calling thread with <see cref="TaskScheduler.Default"/> as
    /// <see cref="TaskScheduler.Current"/>, as user code in a Dataflow block with default options sees it. A block's
    /// delegate runs inside a task of this scheduler; the tasks, continuations and awaits the user's code starts there
    /// would otherwise queue here and take the stage's dedicated threads from its own calls. Like Dataflow's own tasks,
    /// it takes no attached children. While the stage reads cheap, its tasks and those its code starts all go to the
    /// pool anyway: the body then runs as it is, which saves a task per run on the cheapest stages.
    /// </summary>
    public TResult Hidden<TArg, TResult>(Func<TArg, TResult> body, TArg arg)
    {
        if (_cost is { IsCheap: true })
        {
            return body(arg);
        }

        var task = new Task<TResult>(
            static state =>
            {
                var (body, arg) = ((Func<TArg, TResult>, TArg))state!;
                return body(arg);
            },
            (body, arg),
            TaskCreationOptions.HideScheduler | TaskCreationOptions.DenyChildAttach);
        task.RunSynchronously(TaskScheduler.Default);
        return task.GetAwaiter().GetResult();
    }

    /// <summary>The lazy twin of <see cref="Hidden{TArg, TResult}"/>: each step of <paramref name="sequence"/>, and its disposal, runs hidden.</summary>
    public IEnumerable<T> Hidden<T>(IEnumerable<T> sequence) => new HiddenSequence<T>(this, sequence.GetEnumerator());

    /// <summary>A sequence enumerated once (as a block's delegate returns it), whose steps run with the default scheduler as current.</summary>
    private sealed class HiddenSequence<T>(DedicatedThreadScheduler scheduler, IEnumerator<T> inner) : IEnumerable<T>, IEnumerator<T>
    {
        public T Current => inner.Current;

        object? System.Collections.IEnumerator.Current => Current;

        public IEnumerator<T> GetEnumerator() => this;

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => this;

        public bool MoveNext() => scheduler.Hidden(static inner => inner.MoveNext(), inner);

        public void Dispose() => scheduler.Hidden(static inner => { inner.Dispose(); return true; }, inner);

        public void Reset() => throw new NotSupportedException();
    }

    // Never inline: a task that waits for another of this scheduler's tasks must not run it on its own thread, and
    // since nothing is ever queued here, a waited-for task always runs elsewhere at once.
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

    protected override IEnumerable<Task> GetScheduledTasks() => [];

    /// <summary>
    /// A task handed to the thread pool. Kept per pool thread and reused, so that a cheap stage, whose blocks queue a
    /// task for every message they process or offer, allocates no work item for it.
    /// </summary>
    private sealed class PoolWorkItem : IThreadPoolWorkItem
    {
        [ThreadStatic]
        private static PoolWorkItem? t_spare;

        // Where a thread that already has a spare leaves another: items queued on one thread and run on another would
        // otherwise pile up on the runner and be allocated anew on the queuer.
        private static PoolWorkItem? s_shared;

        private DedicatedThreadScheduler? _scheduler;
        private Task? _task;

        public static PoolWorkItem Rent(DedicatedThreadScheduler scheduler, Task task)
        {
            var item = t_spare ?? Interlocked.Exchange(ref s_shared, null) ?? new PoolWorkItem();
            t_spare = null;
            item._scheduler = scheduler;
            item._task = task;
            return item;
        }

        public void Execute()
        {
            var (scheduler, task) = (_scheduler!, _task!);
            (_scheduler, _task) = (null, null);

            // Spare again before the task runs: a task it queues reuses this item.
            if (t_spare is null)
            {
                t_spare = this;
            }
            else
            {
                Volatile.Write(ref s_shared, this);
            }
            scheduler.TryExecuteTask(task);
        }
    }
}
