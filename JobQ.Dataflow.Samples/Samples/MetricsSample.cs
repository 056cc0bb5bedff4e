using System.Diagnostics.Metrics;
using System.Threading.Tasks.Dataflow;
using Spectre.Console;

namespace JobQ.Dataflow.Samples;

/// <summary>
/// The <c>JobQ.Dataflow</c> meter read by a <see cref="MeterListener"/> while a pipeline block runs: per stage items
/// started, finished, failed and dropped, calls in progress, queue size, workers, and the call-duration histogram.
/// OpenTelemetry reads the same instruments with <c>AddMeter("JobQ.Dataflow")</c>.
/// </summary>
public sealed class MetricsSample : ISample
{
    /// <summary>The number of orders sent into the block.</summary>
    public const int Orders = 120;

    /// <summary>The pipeline name, the <c>jobq.pipeline</c> tag of every measurement.</summary>
    public const string PipelineName = "orders";

    /// <inheritdoc/>
    public string Name => "metrics";

    /// <inheritdoc/>
    public string Description => "The JobQ.Dataflow meter read with a MeterListener while a pipeline runs: a table of every instrument per stage.";

    /// <inheritdoc/>
    public bool IsSynopsis => false;

    /// <summary>Gets whether an order is invalid: the validate stage drops it.</summary>
    /// <param name="order">The order number.</param>
    /// <returns><see langword="true"/> for every tenth order from the fifth.</returns>
    public static bool IsInvalid(int order) => order % 10 == 5;

    /// <inheritdoc/>
    public async Task RunAsync(TextWriter output, CancellationToken cancellationToken = default)
    {
        var console = SampleConsole.For(output);
        var readings = new Readings();

        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, meterListener) =>
        {
            if (instrument.Meter.Name == "JobQ.Dataflow")
            {
                meterListener.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => readings.Add(instrument.Name, value, tags));
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => readings.Add(instrument.Name, value, tags));
        listener.Start();

        var workers = Workers.Of<int>()
            .Then(Validate, name: "validate")
            .Then(EnrichAsync, threads: 4, name: "enrich")
            .Then(Save, threads: 2, name: "save");
        var block = JobQueue.CreateBlock(workers, new JobOptions { Name = PipelineName, QueueSize = 32 });

        var expected = Enumerable.Range(1, Orders).Count(o => !IsInvalid(o));
        var saved = 0;
        var allSaved = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sink = new ActionBlock<int>(_ =>
        {
            if (Interlocked.Increment(ref saved) == expected)
            {
                allSaved.TrySetResult();
            }
        });
        block.LinkTo(sink, new DataflowLinkOptions { PropagateCompletion = true });

        var feeding = FeedAsync(block, cancellationToken);

        // Observable instruments are read when the listener asks: here every 20 ms while orders flow, then once more
        // when every order is through (the block is still running, so its stages still report).
        var readingsTaken = 0;
        while (!allSaved.Task.IsCompleted)
        {
            listener.RecordObservableInstruments();
            readingsTaken++;
            await Task.WhenAny(allSaved.Task, Task.Delay(20, cancellationToken));
        }

        listener.RecordObservableInstruments();
        readingsTaken++;
        await feeding;
        block.Complete();
        await sink.Completion.WaitAsync(cancellationToken);

        string[] stages = ["validate", "enrich", "save"];
        var table = new Table().Border(TableBorder.Rounded).Title($"Meter JobQ.Dataflow, jobq.pipeline = {PipelineName}");
        table.AddColumn("Instrument");
        table.AddColumn("Reading");
        foreach (var stage in stages)
        {
            table.AddColumn(new TableColumn(stage).RightAligned());
        }

        void AddRow(string instrument, string reading, Func<string, string> value)
            => table.AddRow([instrument, reading, .. stages.Select(value)]);

        AddRow("jobq.stage.workers", "last", s => $"{readings.Last(s, "jobq.stage.workers")}");
        AddRow("jobq.stage.items.started", "last", s => $"{readings.Last(s, "jobq.stage.items.started")}");
        AddRow("jobq.stage.items.finished", "last", s => $"{readings.Last(s, "jobq.stage.items.finished")}");
        AddRow("jobq.stage.items.failed", "last", s => $"{readings.Last(s, "jobq.stage.items.failed")}");
        AddRow("jobq.stage.items.dropped", "last", s => $"{readings.Last(s, "jobq.stage.items.dropped")}");
        AddRow("jobq.stage.calls.in_progress", "peak", s => $"{readings.Peak(s, "jobq.stage.calls.in_progress")}");
        AddRow("jobq.stage.queue.size", "peak", s => $"{readings.Peak(s, "jobq.stage.queue.size")}");
        AddRow("jobq.stage.call.duration", "count", s => $"{readings.Durations(s).Calls}");
        AddRow("jobq.stage.call.duration", "mean ms", s => readings.Durations(s) is { Calls: > 0 } d ? $"{d.Seconds / d.Calls * 1000:F2}" : "-");
        console.Write(table);
        console.WriteLine($"orders: {Orders} sent, {saved} saved, {Orders - expected} invalid ones dropped");
        console.WriteLine($"readings: {readingsTaken} taken while the block ran (peak: the highest value seen)");
        console.WriteLine("OpenTelemetry exports the same instruments with no extra code:");
        console.WriteLine("  .WithMetrics(metrics => metrics.AddMeter(\"JobQ.Dataflow\"))");
    }

    private static async Task FeedAsync(ITargetBlock<int> block, CancellationToken cancellationToken)
    {
        for (var order = 1; order <= Orders; order++)
        {
            await block.SendAsync(order, cancellationToken);
        }
    }

    private static WorkerResult<int> Validate(int order) => IsInvalid(order) ? JobQueue.EmptyRst : order;

    private static async Task<int> EnrichAsync(int order, CancellationToken cancellationToken)
    {
        await Task.Delay(2, cancellationToken); // stands for a look-up in another service
        return order;
    }

    private static int Save(int order)
    {
        Thread.Sleep(1); // workload: stands for a database write
        return order;
    }

    /// <summary>The latest and highest value of each instrument per stage, and the sum of the call durations.</summary>
    private sealed class Readings
    {
        private readonly Lock _lock = new();
        private readonly Dictionary<(string Stage, string Instrument), (long Last, long Peak)> _values = [];
        private readonly Dictionary<string, (long Calls, double Seconds)> _durations = [];

        public void Add(string instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (StageOf(tags) is not { } stage)
            {
                return;
            }

            lock (_lock)
            {
                var peak = _values.TryGetValue((stage, instrument), out var old) ? Math.Max(old.Peak, value) : value;
                _values[(stage, instrument)] = (value, peak);
            }
        }

        // Histogram measurements arrive from the worker threads, one per call.
        public void Add(string instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (instrument != "jobq.stage.call.duration" || StageOf(tags) is not { } stage)
            {
                return;
            }

            lock (_lock)
            {
                var (calls, seconds) = _durations.GetValueOrDefault(stage);
                _durations[stage] = (calls + 1, seconds + value);
            }
        }

        public long Last(string stage, string instrument)
        {
            lock (_lock)
            {
                return _values.GetValueOrDefault((stage, instrument)).Last;
            }
        }

        public long Peak(string stage, string instrument)
        {
            lock (_lock)
            {
                return _values.GetValueOrDefault((stage, instrument)).Peak;
            }
        }

        public (long Calls, double Seconds) Durations(string stage)
        {
            lock (_lock)
            {
                return _durations.GetValueOrDefault(stage);
            }
        }

        // Measurements of other pipelines in the process carry another jobq.pipeline tag.
        private static string? StageOf(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? pipeline = null;
            string? stage = null;
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

            return pipeline == PipelineName ? stage : null;
        }
    }
}
