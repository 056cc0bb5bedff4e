using System.Collections.Concurrent;

namespace JobQ.Dataflow.Tests.Support;

/// <summary>
/// A worker that records what it sees: the items, how many calls are in progress and the most at once, and the
/// threads it ran on. It optionally waits on a <see cref="Gate"/> inside every call.
/// </summary>
internal sealed class WorkerSpy(Gate? gate = null)
{
    private readonly ConcurrentDictionary<int, Thread> _threads = new();
    private int _current;
    private int _max;
    private int _entered;
    private int _completed;

    /// <summary>Gets the items in the order calls began.</summary>
    public ConcurrentQueue<int> Seen { get; } = new();

    public int Current => Volatile.Read(ref _current);

    public int MaxConcurrency => Volatile.Read(ref _max);

    public int Entered => Volatile.Read(ref _entered);

    public int Completed => Volatile.Read(ref _completed);

    /// <summary>Gets the distinct threads calls ran on.</summary>
    public IReadOnlyCollection<Thread> Threads => [.. _threads.Values];

    /// <summary>A sync worker: waits on the gate and passes the item on.</summary>
    public int Work(int item)
    {
        Enter(item);
        try
        {
            gate?.Pass();
            return item;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>An async worker: awaits the gate and passes the item on.</summary>
    public async Task<int> WorkAsync(int item)
    {
        Enter(item);
        try
        {
            if (gate is not null)
            {
                await gate.PassAsync().ConfigureAwait(false);
            }

            return item;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Starts measuring the most calls at once from now: the calls in progress now count as the first sample.</summary>
    public void ResetMaxConcurrency() => Volatile.Write(ref _max, Current);

    private void Enter(int item)
    {
        Interlocked.Increment(ref _entered);
        Seen.Enqueue(item);
        _threads.TryAdd(Environment.CurrentManagedThreadId, Thread.CurrentThread);
        Atomic.Max(ref _max, Interlocked.Increment(ref _current));
    }

    private void Exit()
    {
        Interlocked.Increment(ref _completed);
        Interlocked.Decrement(ref _current);
    }
}
