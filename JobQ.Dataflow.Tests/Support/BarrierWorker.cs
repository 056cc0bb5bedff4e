using System.Collections.Concurrent;

namespace JobQ.Dataflow.Tests.Support;

/// <summary>A sync worker whose calls meet at a barrier: the barrier completes only if that many calls run at once on real threads.</summary>
internal sealed class BarrierWorker(Barrier barrier)
{
    private readonly ConcurrentDictionary<int, Thread> _threads = new();
    private int _onThreadPool;

    /// <summary>Gets whether each call met the others at the barrier within the bound.</summary>
    public ConcurrentQueue<bool> Met { get; } = new();

    public IReadOnlyCollection<Thread> Threads => [.. _threads.Values];

    /// <summary>Gets the number of calls that ran on a thread-pool thread rather than a dedicated one.</summary>
    public int CallsOnThreadPool => Volatile.Read(ref _onThreadPool);

    public int Meet(int item)
    {
        _threads.TryAdd(Environment.CurrentManagedThreadId, Thread.CurrentThread);
        if (Thread.CurrentThread.IsThreadPoolThread)
        {
            Interlocked.Increment(ref _onThreadPool);
        }

        Met.Enqueue(barrier.SignalAndWait(Bounded.Limit));
        return item;
    }
}
