namespace JobQ.Dataflow.Internal;

/// <summary>The running form of one stage, as the pipeline sees it whatever its types.</summary>
internal abstract class StageRuntime(StageContext context)
{
    private bool _completed;

    public StageContext Context { get; } = context;

    public string Name => Context.Name;

    /// <summary>Gets the delegate the user gave for this stage (for <c>SetThreadNum</c>); null for built-in stages.</summary>
    public Delegate? UserDelegate { get; set; }

    /// <summary>Gets the stage's input queue, an <c>ItemQueue&lt;TIn&gt;</c>.</summary>
    public abstract object InputQueue { get; }

    /// <summary>Gets whether every lane of the stage has exited and its output queue was completed.</summary>
    public bool IsCompleted => Volatile.Read(ref _completed);

    /// <summary>Gets the number of worker calls in progress now.</summary>
    public abstract long Doing { get; }

    public abstract void Start();

    /// <summary>Stops the stage's queues and reorderer so every waiting lane returns.</summary>
    public abstract void Abort();

    /// <summary>Marks the stage completed; its last loop calls it after completing the output queue and before it
    /// leaves the pipeline's loop count, so the loop that brings that count to zero sees it.</summary>
    protected void MarkCompleted() => Volatile.Write(ref _completed, true);

    /// <summary>Changes the number of workers; see <c>JobManager.SetThreadNum</c>.</summary>
    public abstract void SetWorkerCount(int count);

    public abstract StageStats Snapshot();
}
