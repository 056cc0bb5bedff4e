namespace JobQ.Dataflow.Internal;

/// <summary>
/// A stage's call counts (jobq's <c>in</c>/<c>out</c>, plus failed and dropped), exact at every moment a snapshot
/// can see: each run in progress counts its own calls in a <see cref="RunProgress"/> that only its processor writes,
/// and folds them into the totals when it ends.
/// </summary>
/// <remarks>
/// <para>So the per-item cost is two plain writes, and the per-run cost one lock to begin and one to end. A snapshot
/// takes the same lock, so it never counts a run twice nor misses one.</para>
/// <para><c>_lock</c> guards <c>_active</c>, <c>_free</c> and the totals.</para>
/// </remarks>
internal sealed class StageCounters
{
    private readonly Lock _lock = new();
    private readonly List<RunProgress> _active = [];
    private readonly Stack<RunProgress> _free = new();
    private long _in;
    private long _out;
    private long _failed;
    private long _dropped;

    /// <summary>Starts counting a run's calls.</summary>
    /// <param name="items">The run's items, about to leave the stage's queue: until their calls start they still wait
    /// for a worker, and <see cref="Read"/> counts them so.</param>
    public RunProgress Begin(int items = 0)
    {
        lock (_lock)
        {
            var progress = _free.Count > 0 ? _free.Pop() : new RunProgress();
            progress.Items = items;
            progress.Index = _active.Count;
            _active.Add(progress);
            return progress;
        }
    }

    /// <summary>Folds a run's calls into the totals; <paramref name="progress"/> may be reused afterwards.</summary>
    public void End(RunProgress progress)
    {
        lock (_lock)
        {
            _in += progress.Started;
            _out += progress.Finished;
            _failed += progress.Failed;
            _dropped += progress.Dropped;

            var last = _active[^1];
            _active[progress.Index] = last;
            last.Index = progress.Index;
            _active.RemoveAt(_active.Count - 1);

            progress.Clear();
            _free.Push(progress);
        }
    }

    /// <summary>Counts one finished call that never went through a run (a dispatcher's failure, for example).</summary>
    public void CountFailedCall()
    {
        lock (_lock)
        {
            _in++;
            _out++;
            _failed++;
        }
    }

    /// <summary>Reads the counts: started, finished, failed, dropped, and the items of runs in progress whose calls have not started.</summary>
    public (long In, long Out, long Failed, long Dropped, long Unstarted) Read()
    {
        lock (_lock)
        {
            long @in = _in, @out = _out, failed = _failed, dropped = _dropped, unstarted = 0;
            foreach (var progress in _active)
            {
                // Read in the reverse order of the writes (failed and dropped, then finished, then started): a call
                // that moves on between two reads is counted at its earlier state, never as failed before finished or
                // finished before started. A run makes one call at a time, so calls it started after the finished
                // count was read are left for the next snapshot: a reader preempted between the two reads would
                // otherwise see several of its calls in progress.
                var progressFailed = progress.Failed;
                var progressDropped = progress.Dropped;
                var finished = progress.Finished;
                var started = Math.Min(progress.Started, finished + 1);
                @in += started;
                @out += finished;
                failed += progressFailed;
                dropped += progressDropped;
                unstarted += Math.Max(0, progress.Items - started);
            }

            return (@in, @out, failed, dropped, unstarted);
        }
    }

    /// <summary>Gets whether every run in progress is inside a user call (so nothing of ours is still running in this stage).</summary>
    public bool OnlyInUserCode()
    {
        lock (_lock)
        {
            foreach (var progress in _active)
            {
                if (!progress.InCall)
                {
                    return false;
                }
            }

            return true;
        }
    }
}

/// <summary>
/// The calls of one run in progress: written by the run's processor only, one call at a time, read by snapshots under
/// the stage's lock.
/// </summary>
internal sealed class RunProgress
{
    private int _started;
    private int _finished;
    private int _failed;
    private int _dropped;
    private int _reporting;

    // The call in progress dropped its item: counted as dropped when it finishes, after it counts as finished.
    private bool _dropping;

    /// <summary>Gets or sets the run's position in its stage's list of active runs (guarded by the stage's lock).</summary>
    public int Index { get; set; }

    /// <summary>Gets or sets the run's items counted as waiting until their calls start (set when the run begins).</summary>
    public int Items { get; set; }

    public int Started => Volatile.Read(ref _started);

    public int Finished => Volatile.Read(ref _finished);

    public int Failed => Volatile.Read(ref _failed);

    public int Dropped => Volatile.Read(ref _dropped);

    /// <summary>Gets whether a call of this run is in progress in user code (not being reported as failed).</summary>
    public bool InCall => Volatile.Read(ref _started) != Volatile.Read(ref _finished) && Volatile.Read(ref _reporting) == 0;

    /// <summary>Counts a call as started.</summary>
    public void Start() => Volatile.Write(ref _started, _started + 1);

    /// <summary>Counts the call in progress as finished (and then as dropped, if it dropped its item).</summary>
    public void Finish()
    {
        Volatile.Write(ref _finished, _finished + 1);
        if (_dropping)
        {
            _dropping = false;
            Volatile.Write(ref _dropped, _dropped + 1);
        }
    }

    /// <summary>Counts the call in progress as finished and failed (finished first: a reader never sees more failed than finished).</summary>
    public void Fail()
    {
        _dropping = false;
        Volatile.Write(ref _finished, _finished + 1);
        Volatile.Write(ref _failed, _failed + 1);
        Volatile.Write(ref _reporting, 0);
    }

    /// <summary>
    /// The call in progress failed and stops the pipeline (a fail-fast failure, once logged): our code runs for it until
    /// <see cref="Fail"/> counts it, so the stop it causes waits for the count.
    /// </summary>
    public void Reporting() => Volatile.Write(ref _reporting, 1);

    /// <summary>
    /// Counts a call as having passed nothing on (<c>EmptyRst</c>): the call in progress once it finishes (a reader never
    /// sees more dropped than finished), or the call that just finished.
    /// </summary>
    public void Drop()
    {
        if (_started != _finished)
        {
            _dropping = true;
        }
        else
        {
            Volatile.Write(ref _dropped, _dropped + 1);
        }
    }

    public void Clear()
    {
        _started = 0;
        _finished = 0;
        _failed = 0;
        _dropped = 0;
        _reporting = 0;
        _dropping = false;
    }
}
