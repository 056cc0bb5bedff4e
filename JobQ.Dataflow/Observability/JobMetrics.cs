using System.Collections.Concurrent;
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

    private static readonly ConcurrentDictionary<PipelineRuntime, byte> Live = new();
    private static readonly Meter Meter = new(MeterName);

    /// <summary>Worker call durations in seconds, per stage; recorded only while <see cref="Instrument.Enabled"/>.</summary>
    public static readonly Histogram<double> CallDuration = Meter.CreateHistogram<double>(
        "jobq.stage.call.duration", "s", "Duration of worker calls per stage.");

    static JobMetrics()
    {
        Meter.CreateObservableCounter("jobq.stage.items.started", () => Observe(s => s.In), "{item}", "Worker calls started per stage.");
        Meter.CreateObservableCounter("jobq.stage.items.finished", () => Observe(s => s.Out), "{item}", "Worker calls finished per stage, whatever their outcome.");
        Meter.CreateObservableCounter("jobq.stage.items.failed", () => Observe(s => s.Failed), "{item}", "Worker or dispatcher calls that failed per stage.");
        Meter.CreateObservableCounter("jobq.stage.items.dropped", () => Observe(s => s.Dropped), "{item}", "Calls that passed nothing on (EmptyRst) per stage.");
        Meter.CreateObservableUpDownCounter("jobq.stage.calls.in_progress", () => Observe(s => s.Doing), "{call}", "Worker calls in progress per stage.");
        Meter.CreateObservableUpDownCounter("jobq.stage.queue.size", () => Observe(s => (long)s.Input.Size), "{item}", "Items waiting in each stage's input queue.");
        Meter.CreateObservableUpDownCounter("jobq.stage.workers", () => Observe(s => (long)s.WorkerCount), "{worker}", "Current worker count per stage.");
    }

    /// <summary>Makes the tags of one stage once, so that recording a duration allocates nothing.</summary>
    public static KeyValuePair<string, object?>[] StageTags(string pipeline, string stage)
        => [new("jobq.pipeline", pipeline), new("jobq.stage", stage)];

    public static void Register(PipelineRuntime runtime) => Live.TryAdd(runtime, 0);

    public static void Unregister(PipelineRuntime runtime) => Live.TryRemove(runtime, out _);

    private static IEnumerable<Measurement<long>> Observe(Func<StageStats, long> select)
    {
        foreach (var runtime in Live.Keys)
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
