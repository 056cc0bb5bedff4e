namespace JobQ.Dataflow.Internal;

/// <summary>
/// Counts what Dataflow's reordering buffer holds back in a keepOrder stage with several threads: the outputs of runs
/// that ended before a run admitted earlier did (jobq's coordinator). It holds no items, only the counts, keyed by the
/// sequence numbers the stage's door stamps in admission order, which is the order the block emits in.
/// </summary>
/// <remarks>Every admitted run ends exactly once. <c>_lock</c> guards the fields.</remarks>
internal sealed class OrderTracker
{
    private readonly Lock _lock = new();
    private readonly Dictionary<long, int> _ended = [];
    private long _next;
    private int _parked;
    private bool _frozen;

    /// <summary>Gets the outputs held back until an earlier run ends.</summary>
    public int Parked => Volatile.Read(ref _parked);

    /// <summary>Gets or sets what to call when held-back outputs go on: the stage may take more input again.</summary>
    public Action? Released { get; set; }

    /// <summary>Gets whether every run admitted before <paramref name="sequence"/> has ended: its outputs go on as they come.</summary>
    public bool IsNext(long sequence) => Volatile.Read(ref _next) == sequence;

    /// <summary>
    /// The pipeline stopped: what is held back stays held, as jobq's coordinator keeps its items after a stop, and a run
    /// ending later releases nothing into the next stage's queue.
    /// </summary>
    public void Freeze()
    {
        lock (_lock)
        {
            _frozen = true;
        }
    }

    /// <summary>Run <paramref name="sequence"/> ended with <paramref name="outputs"/> outputs.</summary>
    public void Ended(long sequence, int outputs)
    {
        bool released;
        lock (_lock)
        {
            // Out of order, even after the stop: a run that read no stop before it passes its outputs on, and Dataflow
            // holds them.
            if (sequence != _next)
            {
                _ended[sequence] = outputs;
                _parked += outputs;
                return;
            }

            if (_frozen)
            {
                return;
            }

            released = false;
            while (_ended.Remove(++_next, out var count))
            {
                _parked -= count;
                released = true;
            }
        }

        if (released)
        {
            Released?.Invoke();
        }
    }
}
