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
    public void Meter_RunWithFailuresAndDrops_ReportsFailedAndDroppedPerStage()
    {
        var seen = new ConcurrentDictionary<(string Instrument, string Stage), long>();
        using var listener = Listen("metrics-failures", seen);

        static WorkerResult<int> DropEven(int x) => x % 2 == 0 ? JobQueue.EmptyRst : x;
        using var held = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var run = Task.Run(() => JobQueue.Run(
            Enumerable.Range(0, 30),
            Workers.Of<int>()
                .Then(x => x % 3 == 0 ? throw new InvalidOperationException("third") : x, name: "parse")
                .Then(DropEven, name: "filter")
                .Then(x =>
                {
                    if (x == 29)
                    {
                        held.Set();
                        release.Wait(TimeSpan.FromSeconds(10));
                    }
                }, name: "hold"),
            new JobOptions { Name = "metrics-failures" }));

        try
        {
            // Read while the run is held: the instruments stop reporting a run once it has ended.
            Assert.IsTrue(held.Wait(TimeSpan.FromSeconds(10)));
            listener.RecordObservableInstruments();
        }
        finally
        {
            release.Set();
        }

        Assert.IsTrue(run.Wait(TimeSpan.FromSeconds(10)));
        Assert.AreEqual(30L, seen[("jobq.stage.items.started", "parse")]);
        Assert.AreEqual(10L, seen[("jobq.stage.items.failed", "parse")]);
        Assert.AreEqual(0L, seen[("jobq.stage.items.dropped", "parse")]);
        Assert.AreEqual(20L, seen[("jobq.stage.items.finished", "filter")]);
        Assert.AreEqual(0L, seen[("jobq.stage.items.failed", "filter")]);
        Assert.AreEqual(10L, seen[("jobq.stage.items.dropped", "filter")]);
        Assert.AreEqual(0L, seen[("jobq.stage.items.failed", "hold")]);
        Assert.AreEqual(1L, seen[("jobq.stage.calls.in_progress", "hold")]);
        Assert.AreEqual(0L, seen[("jobq.stage.queue.size", "hold")]);
    }

    [TestMethod]
    public void Meter_AfterRunEnds_NoLongerReportsIt()
    {
        var seen = new ConcurrentDictionary<(string Instrument, string Stage), long>();
        using var listener = Listen("metrics-ended", seen);

        var result = JobQueue.Run(Enumerable.Range(0, 10), Workers.Of<int>().Then(x => x, name: "only"), new JobOptions { Name = "metrics-ended" });
        Assert.IsTrue(result.Completed);

        // Unregistration runs as a continuation of the run's end; give it a bounded chance to happen.
        Assert.IsTrue(SpinWait.SpinUntil(
            () =>
            {
                seen.Clear();
                listener.RecordObservableInstruments();
                return seen.IsEmpty;
            },
            TimeSpan.FromSeconds(10)));
    }

    [TestMethod]
    public void Meter_ListenerCallbackThrows_RunIsUnaffected()
    {
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "JobQ.Dataflow")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, _, _) => throw new FormatException("exporter broke"));
        listener.Start();

        using var held = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var passed = 0;
        var run = Task.Run(() => JobQueue.Run(
            Enumerable.Range(0, 50),
            Workers.Of<int>().Then(x =>
            {
                if (x == 25)
                {
                    held.Set();
                    release.Wait(TimeSpan.FromSeconds(10));
                }

                Interlocked.Increment(ref passed);
            }),
            new JobOptions { Name = "metrics-throwing-listener" }));

        try
        {
            Assert.IsTrue(held.Wait(TimeSpan.FromSeconds(10)));
            Assert.Throws<Exception>(listener.RecordObservableInstruments, "The listener's own exception surfaces in the listener's caller, not in the run.");
        }
        finally
        {
            release.Set();
        }

        Assert.IsTrue(run.Wait(TimeSpan.FromSeconds(10)));
        Assert.IsTrue(run.Result.Completed);
        Assert.AreEqual(50, passed);
    }

    [TestMethod]
    public void Meter_Instruments_IncludeACallDurationHistogram()
    {
        var published = new List<Instrument>();
        _ = JobQueue.Run(new[] { 1 }, Workers.Of<int>().Then(x => x));
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, _) =>
        {
            if (instrument.Meter.Name == "JobQ.Dataflow")
            {
                published.Add(instrument);
            }
        };
        listener.Start();

        Assert.IsNotEmpty(published);
        Assert.IsTrue(
            published.Any(i => i.GetType().IsGenericType && i.GetType().GetGenericTypeDefinition() == typeof(Histogram<>)),
            $"Published: {string.Join(", ", published.Select(i => i.Name))}");
    }

    private static MeterListener Listen(string pipelineName, ConcurrentDictionary<(string Instrument, string Stage), long> seen)
    {
        var listener = new MeterListener();
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

            if (pipeline == pipelineName && stage is not null)
            {
                seen[(instrument.Name, stage)] = value;
            }
        });
        listener.Start();
        return listener;
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
