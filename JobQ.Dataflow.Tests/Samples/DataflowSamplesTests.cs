using System.Globalization;
using System.Text.RegularExpressions;
using JobQ.Dataflow.Samples;

namespace JobQ.Dataflow.Tests.Samples;

/// <summary>
/// Runs the samples of the Dataflow, error-policy and observability features (the pipeline block, Polly retries, the
/// meter, progress) and checks what they print: counts, order, attempts, dead letters and instrument readings.
/// </summary>
[TestClass]
public sealed partial class DataflowSamplesTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [TestMethod]
    public async Task RunAsync_DataflowBlockSample_PassesEveryOrderThroughTheGraphInOrder()
    {
        var text = await RunTextAsync(new DataflowBlockSample());

        StringAssert.Contains(text, "sent 50 orders, received 50 invoices; in order: yes");
        StringAssert.Contains(text, "first: invoice #1: 2 x 9.99 = 19.98, last: invoice #50: 3 x 9.99 = 29.97");
        StringAssert.Contains(text, "pipeline block completed: True");
        var rows = TableRows(text).ToDictionary(r => r[0]);
        Assert.AreEqual("50", rows["orders (BufferBlock)"][3], text);
        foreach (var (stage, threads) in new[] { ("parse", "1"), ("price", "4"), ("format", "1") })
        {
            CollectionAssert.AreEqual(new[] { stage, threads, "50", "50" }, rows[stage], text);
        }

        Assert.AreEqual("50", rows["printer (ActionBlock)"][2], text);
        var streamed = text[text.IndexOf("StreamAsync, first 3 invoices:", StringComparison.Ordinal)..]
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Skip(1)
            .ToArray();
        CollectionAssert.AreEqual(
            new[] { "invoice #1: 2 x 9.99 = 19.98", "invoice #2: 3 x 9.99 = 29.97", "invoice #3: 1 x 9.99 = 9.99" },
            streamed,
            "the stream yields in input order and stops when the loop breaks");
    }

    [TestMethod]
    public async Task RunAsync_PollyRetrySample_RetriesFlakyItemsAndDeadLettersWhatPollyGaveUpOn()
    {
        var text = await RunTextAsync(new PollyRetrySample());

        var rows = TableRows(text).ToList();
        var lookups = rows.Where(r => r.Length == 4 && int.TryParse(r[0], CultureInfo.InvariantCulture, out _)).ToList();
        Assert.HasCount(PollyRetrySample.Products, lookups, text);
        foreach (var row in lookups)
        {
            var sku = ParseInt(row[0]);
            var failures = PollyRetrySample.FailuresBeforeSuccess(sku);
            var gaveUp = failures > PollyRetrySample.MaxRetries;
            var attempts = gaveUp ? PollyRetrySample.MaxRetries + 1 : failures + 1;
            Assert.AreEqual($"{attempts}", row[1], $"attempts of sku {sku}");
            Assert.AreEqual(gaveUp ? "dead-lettered" : attempts == 1 ? "ok" : "ok after retries", row[2], $"outcome of sku {sku}");
            Assert.AreEqual(gaveUp ? "-" : $"{sku * 10}", row[3], $"stock of sku {sku}");
        }

        var deadLetters = rows.Where(r => r.Length == 4 && r[0] == "get-stock").ToList();
        CollectionAssert.AreEqual(new[] { "3", "7", "11" }, deadLetters.Select(r => r[1]).ToArray(), text);
        Assert.IsTrue(deadLetters.All(r => r[2] == "HttpRequestException" && r[3] == "503 Service Unavailable"), text);
        StringAssert.Contains(text, "looked up 12 products: 9 saved, 3 dead-lettered; get-stock failed 3, calls 12");
        Assert.DoesNotContain("   at ", text, "no stack trace for an expected failure");
    }

    [TestMethod]
    public async Task RunAsync_MetricsSample_ReadsEveryInstrumentOfEveryStage()
    {
        var text = await RunTextAsync(new MetricsSample());

        var rows = TableRows(text).Where(r => r.Length == 5 && r[0].StartsWith("jobq.", StringComparison.Ordinal)).ToDictionary(r => (r[0], r[1]));
        string[] Values(string instrument, string reading) => rows[(instrument, reading)][2..];

        CollectionAssert.AreEqual(new[] { "1", "4", "2" }, Values("jobq.stage.workers", "last"), text);
        CollectionAssert.AreEqual(new[] { "120", "108", "108" }, Values("jobq.stage.items.started", "last"), text);
        CollectionAssert.AreEqual(new[] { "120", "108", "108" }, Values("jobq.stage.items.finished", "last"), text);
        CollectionAssert.AreEqual(new[] { "0", "0", "0" }, Values("jobq.stage.items.failed", "last"), text);
        CollectionAssert.AreEqual(new[] { "12", "0", "0" }, Values("jobq.stage.items.dropped", "last"), text);
        CollectionAssert.AreEqual(new[] { "120", "108", "108" }, Values("jobq.stage.call.duration", "count"), "one duration per call");
        // (A reading of calls in progress that races the workers can exceed the worker count by a little: the stage reads
        // its finished count before its started count. So only the plain bounds are checked here.)
        var inProgress = Values("jobq.stage.calls.in_progress", "peak").Select(ParseInt).ToArray();
        var started = Values("jobq.stage.items.started", "last").Select(ParseInt).ToArray();
        for (var i = 0; i < started.Length; i++)
        {
            Assert.IsTrue(inProgress[i] >= 0 && inProgress[i] <= started[i], $"calls in progress within 0..started: {text}");
        }

        Assert.IsTrue(Values("jobq.stage.queue.size", "peak").Select(ParseInt).All(q => q is >= 0 and <= 32), text);
        Assert.IsTrue(Values("jobq.stage.call.duration", "mean ms").Select(ParseDouble).All(ms => ms >= 0), text);
        Assert.IsGreaterThan(0.0, ParseDouble(Values("jobq.stage.call.duration", "mean ms")[1]), "enrich awaits a delay");
        StringAssert.Contains(text, "orders: 120 sent, 108 saved, 12 invalid ones dropped");
        StringAssert.Contains(text, "AddMeter(\"JobQ.Dataflow\")");
    }

    [TestMethod]
    public async Task RunAsync_ProgressSample_PrintsGrowingProgressLinesThenTheTotal()
    {
        var text = await RunTextAsync(new ProgressSample());

        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var done = lines.Select(l => ProgressLine().Match(l)).Where(m => m.Success).Select(m => ParseInt(m.Groups[1].Value)).ToArray();
        Assert.IsGreaterThanOrEqualTo(2, done.Length, $"a line per 100 ms snapshot of a run that lasts at least 450 ms: {text}");
        Assert.IsTrue(done.Zip(done.Skip(1)).All(p => p.First <= p.Second), $"progress never goes back: {text}");
        Assert.IsTrue(done.All(d => d is >= 0 and <= ProgressSample.Images), text);
        Assert.IsTrue(lines.Where(l => l.StartsWith("progress:", StringComparison.Ordinal)).All(l => l.Contains("download:", StringComparison.Ordinal) && l.Contains("resize:", StringComparison.Ordinal)), text);
        StringAssert.StartsWith(lines[^1], "done: 60 of 60 images in ");
    }

    [TestMethod]
    public void Create_Catalog_ListsTheDataflowAndObservabilitySamples()
    {
        var names = SampleCatalog.Create().Where(s => !s.IsSynopsis).Select(s => s.Name).ToArray();

        CollectionAssert.IsSubsetOf(new[] { "dataflow-block", "polly-retry", "metrics", "progress" }, names);
    }

    private static async Task<string> RunTextAsync(ISample sample)
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        await sample.RunAsync(output).WaitAsync(Bound);
        return output.ToString();
    }

    // The cells of every table row drawn with Spectre's rounded border ("│ a │ b │").
    private static IEnumerable<string[]> TableRows(string text) =>
        text.Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.StartsWith('│') && l.EndsWith('│'))
            .Select(l => l.Trim('│').Split('│').Select(c => c.Trim()).ToArray());

    private static int ParseInt(string cell) => int.Parse(cell, NumberStyles.Integer, CultureInfo.InvariantCulture);

    private static double ParseDouble(string cell) => double.Parse(cell, NumberStyles.Float, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^progress:\s+(\d+)/60 images")]
    private static partial Regex ProgressLine();
}
