using System.Diagnostics;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// How many items one message carries into a stage: one while calls are slow or not yet measured, more as calls
/// prove cheap, so that a run takes about <see cref="TargetRunTicks"/> of work. Whoever cuts runs for the stage (the
/// input reader, a <c>JobManager</c>'s puts, the stage before) reads <see cref="Preferred"/>; the stage records what
/// each run cost.
/// </summary>
/// <remarks>
/// <para>A run's items are processed one after another by one call of the block's delegate, so a long run would hold
/// items that another thread of the stage could take, and would delay a shrink by <c>SetThreadNum</c>; runs are
/// therefore kept to about 50 µs of measured work while calls are cheap, to about 0.5 ms while they take 20 µs to
/// 0.5 ms (<see cref="SlowTargetRunTicks"/>), and to at most a share of the queue (<see cref="Max"/>).</para>
/// <para>Updates race between the threads of a stage; the value is a heuristic, read and written whole.</para>
/// </remarks>
internal sealed class RunLength
{
    /// <summary>The work one run should take: long enough to amortise a message, short enough to keep threads fair.</summary>
    internal static readonly long TargetRunTicks = Stopwatch.Frequency / 20_000;

    /// <summary>
    /// The work one run of calls that are not cheap may take: handing a message from thread to thread costs tens of
    /// microseconds, which calls of 20 µs to 0.5 ms would otherwise pay one by one. Calls slower than this go one a run.
    /// </summary>
    internal static readonly long SlowTargetRunTicks = Stopwatch.Frequency / 2_000;

    /// <summary>A stage whose calls take less than this on average is cheap: its blocks may run on the thread pool.</summary>
    internal static readonly long CheapCallTicks = Stopwatch.Frequency / 50_000;

    /// <summary>The most items any message carries.</summary>
    internal const int Limit = 1024;

    /// <summary>How many runs in a row must be cheap before the stage counts as cheap: a worker that blocks now and then
    /// must not be moved to the thread pool between two blocking calls.</summary>
    internal const int CheapRunsInARow = 32;

    private volatile int _preferred = 1;
    private volatile int _cheapRuns;

    /// <summary>Creates the policy of a stage with <paramref name="threads"/> workers and queues of <paramref name="queueSize"/> items.</summary>
    public RunLength(int queueSize, int threads) => Max = MaxFor(queueSize, threads);

    /// <summary>Gets the most items a message carries into this stage: the runs in progress on all its threads hold at most a queue's worth.</summary>
    public int Max { get; }

    /// <summary>Gets the number of items the next message should carry into this stage.</summary>
    public int Preferred => _preferred;

    /// <summary>Gets whether the last <see cref="CheapRunsInARow"/> runs took under <see cref="CheapCallTicks"/> per call.</summary>
    public bool IsCheap => _cheapRuns >= CheapRunsInARow;

    /// <summary>Gets the largest run for a queue of <paramref name="queueSize"/> items shared by <paramref name="threads"/> workers.</summary>
    public static int MaxFor(int queueSize, int threads) => Math.Clamp(queueSize / Math.Max(1, threads), 1, Limit);

    /// <summary>Records that a run of <paramref name="items"/> calls took <paramref name="elapsedTicks"/>.</summary>
    public void Record(int items, long elapsedTicks)
    {
        if (items <= 0)
        {
            return;
        }

        var perItem = Math.Max(1, elapsedTicks / items);
        _cheapRuns = perItem < CheapCallTicks ? Math.Min(_cheapRuns + 1, CheapRunsInARow) : 0;
        var ideal = (perItem < CheapCallTicks ? TargetRunTicks : SlowTargetRunTicks) / perItem;
        var current = _preferred;

        // Halving on a slow run rather than dropping to the ideal at once: on a busy machine one run of cheap calls
        // can look slow because its thread was preempted. A blocking worker still reaches runs of one in a few runs.
        var next = ideal < current
            ? (int)Math.Max(Math.Max(1, ideal), current / 2)
            : (int)Math.Min(Math.Min(ideal, Max), (long)Math.Max(current, items) * 2);
        if (next != current)
        {
            _preferred = next;
        }
    }
}
