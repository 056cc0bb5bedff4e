namespace JobQ.Dataflow.Internal;

/// <summary>
/// The dedicated threads of sync lanes and input readers. A thread whose work ended waits up to an idle timeout
/// for the next piece of work, so that back-to-back runs, or a stage that grows again, reuse it instead of creating a
/// thread (which costs about 150 µs here, and <see cref="Thread.Start()"/> waits for the new thread to come up).
/// </summary>
/// <remarks>
/// <para>Work is never queued: when no thread is idle a new one starts at once, so every piece of work has a thread
/// of its own from its first moment, which is what blocking workers need.</para>
/// <para>Each piece of work runs under its starter's execution context, as <see cref="Thread.Start()"/> would flow
/// it (and under the default one when the starter had none or suppressed the flow), with its own thread name. Work
/// under the default context runs directly; if it leaves that context changed (an async-local or the culture set
/// without a context of its own), its thread exits rather than pass the change on. So does a thread whose priority
/// the work changed. A thread that parks is background again and named as idle.</para>
/// </remarks>
internal sealed class DedicatedThreads
{
    /// <summary>The name of a thread that waits for work: it runs no lane or input reader and holds nothing of any run.</summary>
    internal const string IdleName = "JobQ idle";

    private readonly object _lock = new();

    // Guarded by _lock. Last in, first out: the thread that parked last is the one most likely still warm.
    private readonly List<PooledThread> _idle = [];
    private readonly TimeSpan _idleTimeout;
    private readonly int _maxIdle;

    public DedicatedThreads(TimeSpan idleTimeout, int maxIdle)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(idleTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfNegative(maxIdle);
        _idleTimeout = idleTimeout;
        _maxIdle = maxIdle;
    }

    /// <summary>Gets the process's threads: up to 4 per core (at least 16) wait up to 10 s for new work.</summary>
    public static DedicatedThreads Shared { get; } = new(TimeSpan.FromSeconds(10), Math.Max(16, 4 * Environment.ProcessorCount));

    /// <summary>Gets how many threads wait for work now.</summary>
    public int IdleCount
    {
        get
        {
            lock (_lock)
            {
                return _idle.Count;
            }
        }
    }

    /// <summary>Runs <paramref name="work"/> on a thread of its own: an idle one if there is one, else a new one.</summary>
    /// <param name="name">The thread's name while the work runs.</param>
    /// <param name="work">The work; an exception it throws is unhandled, as on any thread.</param>
    /// <param name="state">The work's argument.</param>
    public void Start(string name, Action<object?> work, object? state)
    {
        var context = ExecutionContext.Capture();
        PooledThread? pooled = null;
        lock (_lock)
        {
            if (_idle.Count > 0)
            {
                pooled = _idle[^1];
                _idle.RemoveAt(_idle.Count - 1);
            }
        }

        var idle = pooled is not null;
        pooled ??= new PooledThread(this);
        pooled.Name = name;
        pooled.Work = work;
        pooled.State = state;
        pooled.Context = context;
        if (idle)
        {
            pooled.Assigned.Set();
            return;
        }

        // The work's context is applied by the loop, per piece of work; the thread itself needs none.
        new Thread(static pooled => ((PooledThread)pooled!).Loop()) { IsBackground = true, Name = name }.UnsafeStart(pooled);
    }

    /// <summary>Lists an idle thread and waits for work; false if it should exit instead (too many idle, or timed out unclaimed).</summary>
    private bool Park(PooledThread pooled)
    {
        lock (_lock)
        {
            if (_idle.Count >= _maxIdle)
            {
                return false;
            }

            pooled.Assigned.Reset();
            _idle.Add(pooled);
        }

        if (pooled.Assigned.Wait(_idleTimeout))
        {
            return true;
        }

        lock (_lock)
        {
            if (_idle.Remove(pooled))
            {
                return false;
            }
        }

        // A starter claimed this thread just as the wait timed out: its work is on the way.
        pooled.Assigned.Wait();
        return true;
    }

    /// <summary>A thread and its next piece of work; the fields are written by a starter before it wakes (or starts) the thread.</summary>
    private sealed class PooledThread(DedicatedThreads owner)
    {
        public readonly ManualResetEventSlim Assigned = new(initialState: false);
        public string Name = IdleName;
        public Action<object?>? Work;
        public object? State;
        public ExecutionContext? Context;

        public void Loop()
        {
            var thread = Thread.CurrentThread;

            // A fresh thread runs under the default context; work whose starter suppressed the flow runs under it too,
            // so that nothing one piece of work leaves in its context reaches the next.
            var clean = ExecutionContext.Capture()!;
            var first = true;
            while (true)
            {
                if (!first)
                {
                    thread.Name = Name;
                }

                first = false;
                var context = Context ?? clean;
                if (ReferenceEquals(context, clean))
                {
                    // The common case, the default context: run the work directly, and keep the thread only if the
                    // work left that context as it found it.
                    RunWork();
                    if (!ReferenceEquals(ExecutionContext.Capture(), clean))
                    {
                        return;
                    }
                }
                else
                {
                    ExecutionContext.Run(context, static pooled => ((PooledThread)pooled!).RunWork(), this);
                }

                // Raising a lowered priority back may be refused by the system; a new thread is cheaper than finding out.
                if (thread.Priority != ThreadPriority.Normal)
                {
                    return;
                }

                thread.IsBackground = true;
                thread.Name = IdleName;
                if (!owner.Park(this))
                {
                    return;
                }
            }
        }

        private void RunWork()
        {
            var work = Work!;
            var state = State;

            // Nothing of the finished work stays reachable from a parked thread.
            Work = null;
            State = null;
            Context = null;
            work(state);
        }
    }
}
