using System.Diagnostics.Metrics;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// The <c>JobQ.Dataflow</c> meter. Counters, gauges and up-down counters are observable: values are read from the
/// stage counters when a listener collects, so they cost nothing on the per-item path. The call-duration histogram
/// is the one instrument recorded per call, and only while a listener has enabled it.
/// </summary>
/// <remarks>Tags: <c>jobq.pipeline</c> (<see cref="JobOptions.Name"/>) and <c>jobq.stage</c> (the stage name).</remarks>
internal static class JobMetrics
{
    public const string MeterName = "JobQ.Dataflow";

    // The runs alive now, read when a listener collects. A plain list under a lock: registering happens once per run,
    // and a generic collection over our own types would be compiled afresh on a fresh process's start-up path.
    private static readonly List<PipelineRuntime> Live = [];

    // Set when the instruments exist. Creating the first Meter of a process costs about 25 ms of CPU (it loads and
    // starts the metrics infrastructure), which would delay a fresh process's first worker call; so the first run
    // creates it on the thread pool once its loops are started (see EnsureCreated). Observable instruments lose
    // nothing (they read cumulative counters); the duration histogram starts recording once the meter exists.
    private static volatile Histogram<double>? s_callDuration;
    private static int s_initializing;

    /// <summary>Gets the call-duration histogram, or null while the meter is still being created.</summary>
    public static Histogram<double>? CallDuration => s_callDuration;

    private static void CreateInstruments()
    {
        var meter = new Meter(MeterName);
        meter.CreateObservableCounter("jobq.stage.items.started", () => Observe(s => s.In), "{item}", "Worker calls started per stage.");
        meter.CreateObservableCounter("jobq.stage.items.finished", () => Observe(s => s.Out), "{item}", "Worker calls finished per stage, whatever their outcome.");
        meter.CreateObservableCounter("jobq.stage.items.failed", () => Observe(s => s.Failed), "{item}", "Worker or dispatcher calls that failed per stage.");
        meter.CreateObservableCounter("jobq.stage.items.dropped", () => Observe(s => s.Dropped), "{item}", "Calls that passed nothing on (EmptyRst) per stage.");
        meter.CreateObservableUpDownCounter("jobq.stage.calls.in_progress", () => Observe(s => s.Doing), "{call}", "Worker calls in progress per stage.");
        meter.CreateObservableUpDownCounter("jobq.stage.queue.size", () => Observe(s => (long)s.Input.Size), "{item}", "Items waiting in each stage's input queue.");
        meter.CreateObservableUpDownCounter("jobq.stage.workers", () => Observe(s => (long)s.WorkerCount), "{worker}", "Current worker count per stage.");
        s_callDuration = meter.CreateHistogram<double>("jobq.stage.call.duration", "s", "Duration of worker calls per stage.");
    }

    /// <summary>
    /// Creates the instruments once, on the thread pool; waits for them when <paramref name="wait"/> is set (tests).
    /// A run calls it once its loops are started, so that in a fresh process the meter's creation does not compete
    /// with the start of the first run.
    /// </summary>
    public static void EnsureCreated(bool wait = false)
    {
        if (Interlocked.Exchange(ref s_initializing, 1) == 0)
        {
            if (wait)
            {
                CreateInstruments();
            }
            else
            {
                ThreadPool.UnsafeQueueUserWorkItem(static _ => CreateInstruments(), null);
            }
        }

        if (wait)
        {
            SpinWait.SpinUntil(static () => s_callDuration is not null, TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>Makes the tags of one stage once, so that recording a duration allocates nothing.</summary>
    public static KeyValuePair<string, object?>[] StageTags(string pipeline, string stage)
        => [new("jobq.pipeline", pipeline), new("jobq.stage", stage)];

    public static void Register(PipelineRuntime runtime)
    {
        lock (Live)
        {
            Live.Add(runtime);
        }
    }

    public static void Unregister(PipelineRuntime runtime)
    {
        lock (Live)
        {
            Live.Remove(runtime);
        }
    }

    private static IEnumerable<Measurement<long>> Observe(Func<StageStats, long> select)
    {
        PipelineRuntime[] live;
        lock (Live)
        {
            live = [.. Live];
        }

        foreach (var runtime in live)
        {
            var stats = runtime.Snapshot();
            foreach (var stage in stats.Stages)
            {
                yield return new Measurement<long>(
                    select(stage),
                    new KeyValuePair<string, object?>("jobq.pipeline", runtime.Name),
                    new KeyValuePair<string, object?>("jobq.stage", stage.Name));
            }
        }
    }
}
