using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// The <c>JobQ.Dataflow</c> meter. Every instrument is observable: values are read from the stage counters
/// when a listener collects, so metrics cost nothing on the per-item path and nothing at all without a listener.
/// </summary>
/// <remarks>Tags: <c>jobq.pipeline</c> (<see cref="JobOptions.Name"/>) and <c>jobq.stage</c> (the stage name).</remarks>
internal static class JobMetrics
{
    public const string MeterName = "JobQ.Dataflow";

    private static readonly ConcurrentDictionary<PipelineRuntime, byte> Live = new();
    private static readonly Meter Meter = new(MeterName);

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
