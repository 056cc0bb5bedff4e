using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// The <c>JobQ.Dataflow</c> meter. Counters and up-down counters are observable: values are read from the stage
/// counters when a listener collects, so they cost nothing on the per-item path. The call-duration histogram is the
/// one instrument recorded per call, and only while a listener has enabled it.
/// </summary>
/// <remarks>Tags: <c>jobq.pipeline</c> (<see cref="JobOptions.Name"/>), <c>jobq.stage</c> (the stage name) and
/// <c>jobq.stage.index</c> (its position, which tells apart two stages of one name).</remarks>
internal static class JobMetrics
{
    public const string MeterName = "JobQ.Dataflow";

    // The pipelines running now, read when a listener collects. Held weakly: a pipeline dropped unfinished (a block
    // never completed, a manager never joined nor disposed) is garbage, as a dropped Dataflow block is.
    private static readonly ConditionalWeakTable<Pipeline, object?> Live = [];

    private static readonly Meter Meter = CreateMeter(out CallDurationInstrument);

    /// <summary>Gets the call-duration histogram; record into it only while <see cref="Instrument.Enabled"/>.</summary>
    public static Histogram<double> CallDuration => CallDurationInstrument;

    private static readonly Histogram<double> CallDurationInstrument;

    /// <summary>Makes the tags of one stage once, so that recording a duration allocates nothing.</summary>
    public static KeyValuePair<string, object?>[] StageTags(string pipeline, string stage, int index)
        => [new("jobq.pipeline", pipeline), new("jobq.stage", stage), new("jobq.stage.index", index)];

    /// <summary>
    /// Records a call's duration, if a listener enabled the histogram. A listener that throws is ignored, as a logger
    /// that throws is: a metrics consumer's bug must not fail the item, nor count its call twice.
    /// </summary>
    public static void RecordCall(long callStart, KeyValuePair<string, object?>[] tags)
    {
        try
        {
            CallDurationInstrument.Record(Stopwatch.GetElapsedTime(callStart).TotalSeconds, tags);
        }
        catch (Exception)
        {
            // As documented: failures of metrics listeners are ignored.
        }
    }

    public static void Register(Pipeline pipeline)
    {
        _ = Meter;
        Live.AddOrUpdate(pipeline, null);
    }

    public static void Unregister(Pipeline pipeline) => Live.Remove(pipeline);

    private static Meter CreateMeter(out Histogram<double> callDuration)
    {
        var meter = new Meter(MeterName);
        meter.CreateObservableCounter("jobq.stage.items.started", () => Observe(s => s.In), "{item}", "Worker calls started per stage.");
        meter.CreateObservableCounter("jobq.stage.items.finished", () => Observe(s => s.Out), "{item}", "Worker calls finished per stage, whatever their outcome.");
        meter.CreateObservableCounter("jobq.stage.items.failed", () => Observe(s => s.Failed), "{item}", "Worker or dispatcher calls that failed per stage.");
        meter.CreateObservableCounter("jobq.stage.items.dropped", () => Observe(s => s.Dropped), "{item}", "Calls that passed nothing on (EmptyRst) per stage.");
        meter.CreateObservableUpDownCounter("jobq.stage.calls.in_progress", () => Observe(s => s.Doing), "{call}", "Worker calls in progress per stage.");
        meter.CreateObservableUpDownCounter("jobq.stage.queue.size", () => Observe(s => (long)s.Input.Size), "{item}", "Items waiting in each stage's input queue.");
        meter.CreateObservableUpDownCounter("jobq.stage.workers", () => Observe(s => (long)s.WorkerCount), "{worker}", "Current worker count per stage.");
        callDuration = meter.CreateHistogram<double>("jobq.stage.call.duration", "s", "Duration of worker calls per stage.");
        return meter;
    }

    private static IEnumerable<Measurement<long>> Observe(Func<StageStats, long> select)
    {
        foreach (var (pipeline, _) in (IEnumerable<KeyValuePair<Pipeline, object?>>)Live)
        {
            var stats = pipeline.Snapshot();
            for (var i = 0; i < stats.Stages.Count; i++)
            {
                yield return new Measurement<long>(
                    select(stats.Stages[i]),
                    new KeyValuePair<string, object?>("jobq.pipeline", pipeline.Name),
                    new KeyValuePair<string, object?>("jobq.stage", stats.Stages[i].Name),
                    new KeyValuePair<string, object?>("jobq.stage.index", i));
            }
        }
    }
}
