using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using JobQ.Dataflow.Tests.Support;

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

    [TestMethod]
    public void CallDuration_ListenerThrows_CountsStayExactAndNoCallFails()
    {
        // A metrics consumer's bug is not the worker's failure: it is ignored, as a logger that throws is.
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "JobQ.Dataflow" && instrument.Name == "jobq.stage.call.duration")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => throw new InvalidOperationException("listener bug"));
        listener.Start();
        var reached = new ConcurrentQueue<int>();

        var result = JobQueue.Run(
            Enumerable.Range(0, 10),
            Workers.Of<int>().Then(x => x, name: "sync").Then(async x => { await Task.Yield(); return x; }, name: "async").Then(reached.Enqueue),
            new JobOptions { ErrorPolicy = ErrorPolicy.FailFast });

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(0, result.Failed);
        foreach (var stage in result.Stats.Stages)
        {
            Assert.AreEqual(10, stage.In, stage.Name);
            Assert.AreEqual(10, stage.Out, stage.Name);
        }

        Assert.HasCount(10, reached);
    }

    [TestMethod]
    public void CallDuration_GeneratorDispatcherAndFailingStages_RecordsEveryCall()
    {
        var calls = new ConcurrentDictionary<string, int>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "JobQ.Dataflow" && instrument.Name == "jobq.stage.call.duration")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            string? pipeline = null, stage = null;
            foreach (var tag in tags)
            {
                (pipeline, stage) = tag.Key switch
                {
                    "jobq.pipeline" => (tag.Value as string, stage),
                    "jobq.stage" => (pipeline, tag.Value as string),
                    _ => (pipeline, stage),
                };
            }

            if (pipeline == "every-call")
            {
                calls.AddOrUpdate(stage!, 1, (_, n) => n + 1);
            }
        });
        listener.Start();

        JobQueue.Run(
            Enumerable.Range(0, 20),
            Workers.Of<int>()
                .ThenMany(x => new[] { x, x }, name: "twice")
                .Then(x => x, threads: 3, dispatcher: x => x, name: "routed")
                .Then(async x => { await Task.Yield(); return x; }, threads: 2, dispatcher: x => x, name: "routed-async")
                .Then(x => x % 2 == 0 ? throw new InvalidOperationException("even") : x, name: "half-fail"),
            new JobOptions { Name = "every-call", Logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance });

        Assert.AreEqual(20, calls.GetValueOrDefault("twice"));
        Assert.AreEqual(40, calls.GetValueOrDefault("routed"));
        Assert.AreEqual(40, calls.GetValueOrDefault("routed-async"));
        Assert.AreEqual(40, calls.GetValueOrDefault("half-fail"), "failed calls are calls too");
    }

    [TestMethod]
    public void Meter_TwoStagesOfTheSameName_TaggedByTheirIndex()
    {
        var indexes = new ConcurrentDictionary<(string? Stage, object? Index), bool>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "JobQ.Dataflow" && instrument.Name == "jobq.stage.items.started")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            string? pipeline = null, stage = null;
            object? index = null;
            foreach (var tag in tags)
            {
                switch (tag.Key)
                {
                    case "jobq.pipeline": pipeline = tag.Value as string; break;
                    case "jobq.stage": stage = tag.Value as string; break;
                    case "jobq.stage.index": index = tag.Value; break;
                }
            }

            if (pipeline == "same-names")
            {
                indexes[(stage, index)] = true;
            }
        });
        listener.Start();
        using var manager = JobManager.Create(Workers.Of<int>().Then(x => x + 1, name: "step").Then(x => x + 1, name: "step"), new JobOptions { Name = "same-names" });

        listener.RecordObservableInstruments();

        CollectionAssert.AreEquivalent(new[] { ("step", (object?)0), ("step", (object?)1) }, indexes.Keys.ToArray());
        Assert.IsTrue(manager.Join(Bounded.Limit));
    }
}
