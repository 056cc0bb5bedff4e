using System.Runtime.CompilerServices;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// A thread of the <see cref="DedicatedThreadScheduler"/>s: it runs one task at a time, then waits up to
/// <see cref="IdleTimeout"/> for the next one from any scheduler, so that back-to-back runs and stages that grow again
/// reuse threads instead of creating them.
/// </summary>
/// <remarks>
/// <para>Each task runs under the execution context its creator captured, with the thread named after its scheduler's
/// stage. Nothing a task leaves on the thread reaches the next one: its context (a culture, an async-local set without
/// a context of its own), a pending <see cref="Thread.Interrupt"/> and its priority are reset after each task.</para>
/// <para>At most <see cref="MaxIdle"/> threads wait; a thread that finds that many waiting exits.</para>
/// </remarks>
internal sealed class DedicatedThread
{
    /// <summary>The name of a thread that waits for a task.</summary>
    internal const string IdleName = "JobQ idle";

    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(10);
    private static readonly int MaxIdle = Math.Max(16, 4 * Environment.ProcessorCount);

    // Guarded by itself. Last in, first out: the thread that parked last is the one most likely still warm.
    private static readonly List<DedicatedThread> Idle = [];

    private readonly SemaphoreSlim _assigned = new(0);
    private readonly Thread _thread;
    private DedicatedThreadScheduler? _scheduler;
    private Task? _task;

    private DedicatedThread()
    {
        _thread = new Thread(Loop) { IsBackground = true };
    }

    /// <summary>Runs <paramref name="task"/> for <paramref name="scheduler"/> on an idle thread, or on a new one.</summary>
    public static void Run(DedicatedThreadScheduler scheduler, Task task)
    {
        DedicatedThread? thread = null;
        lock (Idle)
        {
            if (Idle.Count > 0)
            {
                thread = Idle[^1];
                Idle.RemoveAt(Idle.Count - 1);
            }
        }

        if (thread is null)
        {
            thread = new DedicatedThread { _scheduler = scheduler, _task = task };
            thread._thread.Name = scheduler.ThreadName;
            // Started without the caller's context, which would otherwise stay the thread's own for as long as it lives.
            thread._thread.UnsafeStart();
            return;
        }

        thread._scheduler = scheduler;
        thread._task = task;
        thread._assigned.Release();
    }

    private void Loop()
    {
        // The thread's own, empty context: a task that carries none (its creator suppressed the flow) runs on the
        // thread's, so whatever it sets there (a culture, an async-local) is cleared after it.
        var clean = ExecutionContext.Capture()!;
        while (true)
        {
            RunAssigned();
            ExecutionContext.Restore(clean);
            Reset();
            _thread.Name = IdleName;

            lock (Idle)
            {
                if (Idle.Count >= MaxIdle)
                {
                    return;
                }

                Idle.Add(this);
            }

            if (!Wait(IdleTimeout))
            {
                lock (Idle)
                {
                    if (Idle.Remove(this))
                    {
                        return;
                    }
                }

                // Taken off the idle list just now: the task is on its way.
                Wait(Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>
    /// Runs the task assigned. A method of its own, so that no local of the idle loop (which may run unoptimized, where
    /// locals live on) keeps the task, its scheduler and the pipeline behind them alive while the thread waits idle.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RunAssigned()
    {
        var scheduler = _scheduler!;
        var task = _task!;
        _scheduler = null;
        _task = null;
        if (_thread.Name != scheduler.ThreadName)
        {
            _thread.Name = scheduler.ThreadName;
        }

        scheduler.RunOnThread(task);
    }

    private bool Wait(TimeSpan timeout)
    {
        while (true)
        {
            try
            {
                return _assigned.Wait(timeout);
            }
            catch (ThreadInterruptedException)
            {
                // Only a worker's own interrupt can reach here, and Reset already consumed it; wait again.
            }
        }
    }

    /// <summary>Clears what a worker may have left on the thread, so that the next task starts clean.</summary>
    private void Reset()
    {
        // A pending interrupt surfaces at the next blocking call: take it here rather than in the next worker.
        ThreadInterrupt.Clear();

        if (_thread.Priority != ThreadPriority.Normal)
        {
            _thread.Priority = ThreadPriority.Normal;
        }

        if (!_thread.IsBackground)
        {
            _thread.IsBackground = true;
        }
    }
}
