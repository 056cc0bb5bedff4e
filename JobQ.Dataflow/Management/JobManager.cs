namespace JobQ.Dataflow;

/// <summary>Creates <see cref="JobManager{TIn, TOut}"/> instances with the type arguments inferred from the worker list.</summary>
public static class JobManager
{
    /// <summary>Starts a job manager for <paramref name="workers"/> (jobq's <c>JobManager(workers, queue_size, probe, keep_order)</c>).</summary>
    /// <typeparam name="TIn">The type of the items put.</typeparam>
    /// <typeparam name="TOut">The type of the last stage's outputs, which are discarded.</typeparam>
    /// <param name="workers">The worker list.</param>
    /// <param name="queueSize">The capacity of each stage's input queue, in items. Default 1024.</param>
    /// <param name="probe">An optional probe for <see cref="JobQueue.Stat"/>.</param>
    /// <param name="keepOrder">Whether every stage passes outputs on in the order items were put.</param>
    /// <returns>The running job manager.</returns>
    public static JobManager<TIn, TOut> Create<TIn, TOut>(
        Workers<TIn, TOut> workers,
        int queueSize = JobOptions.DefaultQueueSize,
        Probe? probe = null,
        bool keepOrder = false)
        => new(workers, queueSize, probe, keepOrder);

    /// <summary>Starts a job manager for <paramref name="workers"/> with full options.</summary>
    /// <typeparam name="TIn">The type of the items put.</typeparam>
    /// <typeparam name="TOut">The type of the last stage's outputs, which are discarded.</typeparam>
    /// <param name="workers">The worker list.</param>
    /// <param name="options">The options; <see cref="JobOptions.Timeout"/> is ignored here (give it to <c>Join</c>).</param>
    /// <returns>The running job manager.</returns>
    public static JobManager<TIn, TOut> Create<TIn, TOut>(Workers<TIn, TOut> workers, JobOptions options)
        => new(workers, options);
}
