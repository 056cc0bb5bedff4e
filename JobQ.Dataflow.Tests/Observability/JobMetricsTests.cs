using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace JobQ.Dataflow.Tests.Observability;

[TestClass]
public sealed class JobMetricsTests
{
    [TestMethod]
    public void Meter_DuringRun_ReportsPerStageCountsTaggedByPipelineAndStage()
    {
        var seen = new ConcurrentDictionary<(string Instrument, string Stage), long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "JobQ.Dataflow")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? pipeline = null, stage = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "jobq.pipeline")
                {
                    pipeline = tag.Value as string;
                }
                else if (tag.Key == "jobq.stage")
                {
                    stage = tag.Value as string;
                }
            }

            if (pipeline == "metrics-test" && stage is not null)
            {
                seen[(instrument.Name, stage)] = value;
            }
        });
        listener.Start();

        using var held = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var run = Task.Run(() => JobQueue.Run(
            Enumerable.Range(0, 10),
            Workers.Of<int>().Then(x => x, name: "first").Then(x =>
            {
                if (x == 9)
                {
                    held.Set();
                    release.Wait(TimeSpan.FromSeconds(10));
                }
            }, name: "second"),
            new JobOptions { Name = "metrics-test" }));

        Assert.IsTrue(held.Wait(TimeSpan.FromSeconds(10)));
        listener.RecordObservableInstruments();
        release.Set();
        Assert.IsTrue(run.Wait(TimeSpan.FromSeconds(10)));

        Assert.AreEqual(10L, seen[("jobq.stage.items.finished", "first")]);
        Assert.AreEqual(10L, seen[("jobq.stage.items.started", "second")]);
        Assert.AreEqual(1L, seen[("jobq.stage.calls.in_progress", "second")]);
        Assert.AreEqual(1L, seen[("jobq.stage.workers", "second")]);
    }

    [TestMethod]
    public void CallDuration_ListenerEnabled_RecordsOneMeasurementPerCallTaggedByStage()
    {
        var durations = new ConcurrentBag<(string? Stage, double Seconds)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "JobQ.Dataflow" && instrument.Name == "jobq.stage.call.duration")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            string? pipeline = null, stage = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "jobq.pipeline")
                {
                    pipeline = tag.Value as string;
                }
                else if (tag.Key == "jobq.stage")
                {
                    stage = tag.Value as string;
                }
            }

            if (pipeline == "histogram-test")
            {
                durations.Add((stage, value));
            }
        });
        listener.Start();

        JobQueue.Run(Enumerable.Range(0, 50), Workers.Of<int>().Then(x => x + 1, name: "add").Then(x => x * 2, threads: 2, name: "mul"), new JobOptions { Name = "histogram-test" });

        Assert.AreEqual(50, durations.Count(d => d.Stage == "add"));
        Assert.AreEqual(50, durations.Count(d => d.Stage == "mul"));
        Assert.IsTrue(durations.All(d => d.Seconds >= 0));
    }
}
