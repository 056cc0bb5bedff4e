using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using JobQ.Dataflow.Samples;

namespace JobQ.Dataflow.Tests.Samples;

/// <summary>
/// Runs every sample of JobQ.Dataflow.Samples and checks what it prints: the synopsis samples print exactly what
/// jobq's README shows; the real-world ones print the checks they make (order held, rates, worker counts, hashes).
/// Also checks that the README's jobq synopsis is the samples' code, so it prints what the samples print
/// (that every C# block of the README and docs compiles is <c>Docs/DocsTests</c>).
/// </summary>
[TestClass]
public sealed partial class SamplesTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [TestMethod]
    public async Task RunAsync_RunSample_PrintsExampleThenOneTwoThree()
    {
        var lines = await RunLinesAsync(new RunSample());

        CollectionAssert.AreEqual(new[] { "jobq.run([0, 1, 2], [add1, printarg])", "1", "2", "3" }, lines);
    }

    [TestMethod]
    public async Task RunAsync_ChainSample_PrintsExampleThenTwoFourSix()
    {
        var lines = await RunLinesAsync(new ChainSample());

        CollectionAssert.AreEqual(new[] { "jobq.run((0, 1, 2), [add1, multi2, printarg])", "2", "4", "6" }, lines);
    }

    [TestMethod]
    public async Task RunAsync_ThreadsSample_PrintsExampleThenTwoFourSixInSomeOrder()
    {
        var lines = await RunLinesAsync(new ThreadsSample());

        Assert.AreEqual("jobq.run(range(3), [add1, (multi2, 2), printarg])", lines[0]);
        CollectionAssert.AreEquivalent(new[] { "2", "4", "6" }, lines.Skip(1).ToArray());
    }

    [TestMethod]
    public async Task RunAsync_KeepOrderSample_PrintsExampleThenTwoFourSixInOrder()
    {
        var lines = await RunLinesAsync(new KeepOrderSample());

        CollectionAssert.AreEqual(new[] { "jobq.run(range(3), [add1, (multi2, 2), printarg], keep_order=True)", "2", "4", "6" }, lines);
    }

    [TestMethod]
    public async Task RunAsync_EmptyRstSample_PrintsExampleThenOddNumbers()
    {
        var lines = await RunLinesAsync(new EmptyRstSample());

        CollectionAssert.AreEqual(new[] { "jobq.run(range(10), [drop_even_number, printarg])", "1", "3", "5", "7", "9" }, lines);
    }

    [TestMethod]
    public async Task RunAsync_JobManagerEchoSample_PrintsExampleThenZeroOneTwo()
    {
        var lines = await RunLinesAsync(new JobManagerEchoSample());

        Assert.HasCount(4, lines, string.Join("\n", lines));
        StringAssert.StartsWith(lines[0], "jm = jobq.JobManager([_echo])");
        CollectionAssert.AreEqual(new[] { "0", "1", "2" }, lines.Skip(1).ToArray());
    }

    [TestMethod]
    public async Task RunAsync_AccountsSample_ReportsPerAccountOrderHeld()
    {
        var text = await RunTextAsync(new AccountsSample());

        StringAssert.Contains(text, "events: 320 applied across 8 accounts on 4 partitions");
        StringAssert.Contains(text, "per-account order held: yes");
        StringAssert.Contains(text, "stage output in input order: yes");
        var rows = TableRows(text).Where(r => r[0].StartsWith("acct-", StringComparison.Ordinal)).ToList();
        Assert.HasCount(8, rows);
        foreach (var row in rows)
        {
            var account = int.Parse(row[0]["acct-".Length..], CultureInfo.InvariantCulture);
            Assert.AreEqual($"{account % 4}", row[1], "partition = account mod 4");
            Assert.AreEqual("40", row[2]);
            Assert.AreEqual("yes", row[4]);
        }

        var mostAtOnce = int.Parse(Regex.Match(text, @"most events applied at once: (\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.IsTrue(mostAtOnce is >= 1 and <= 4, $"at most one event per partition at a time; saw {mostAtOnce}");
    }

    [TestMethod]
    public async Task RunAsync_RateLimitSample_AchievedRatesStayUnderTheLimits()
    {
        var text = await RunTextAsync(new RateLimitSample());

        var rows = TableRows(text).ToDictionary(r => r[0]);
        var before = rows["before 429"];
        var after = rows["after 429"];
        var whole = rows["whole run"];
        Assert.AreEqual(300, ParseInt(before[2]) + ParseInt(after[2]), text);
        Assert.AreEqual(300, ParseInt(whole[2]));
        Assert.IsGreaterThan(0, ParseInt(after[2]), "the rate was lowered before the last request");

        // The limit paces every item to its due time or later, so no measured rate can exceed the limit in force.
        Assert.IsLessThanOrEqualTo(RateLimitSample.StartRate * 1.01, ParseDouble(before[4]), text);
        Assert.IsLessThanOrEqualTo(RateLimitSample.StartRate * 1.01, ParseDouble(whole[4]), text);
        Assert.IsGreaterThan(0.0, ParseDouble(whole[4]));
    }

    [TestMethod]
    public async Task RunAsync_RateLimitSample_PrintsItsClosingSentenceOnOneLine()
    {
        var lines = await RunLinesAsync(new RateLimitSample());

        CollectionAssert.Contains(lines, "A new rate applies from the moment the limit reads it: the pacing window restarts, so lowering the rate never stalls and raising it never bursts.");
    }

    [TestMethod]
    public async Task RunAsync_JobManagerResizeSample_ShowsWorkerCountsOfEachPhaseAndProcessesAll()
    {
        var text = await RunTextAsync(new JobManagerResizeSample());

        var rows = TableRows(text).Where(r => r.Length == 7 && r[0] != "Put").ToList();
        CollectionAssert.AreEqual(new[] { "40", "80", "120", "160", "200", "240", "280", "320", "360" }, rows.Select(r => r[0]).ToArray(), text);
        CollectionAssert.AreEqual(new[] { "1", "1", "1", "4", "4", "4", "2", "2", "2" }, rows.Select(r => r[1]).ToArray(), text);
        foreach (var row in rows)
        {
            Assert.IsLessThanOrEqualTo(ParseInt(row[1]), ParseInt(row[4]), $"doing <= workers: {string.Join(" | ", row)}");
        }

        StringAssert.Contains(text, "joined: all done; 360 of 360 items processed");
        StringAssert.Contains(text, "in 360, out 360, failed 0, workers now 2");
    }

    [TestMethod]
    public async Task RunAsync_ChecksumSampleOnAGivenDirectory_WritesTheSha256OfEveryFile()
    {
        var root = Directory.CreateTempSubdirectory("jobq-samples-test-").FullName;
        try
        {
            var tree = Path.Combine(root, "tree");
            Directory.CreateDirectory(Path.Combine(tree, "sub"));
            var files = new Dictionary<string, byte[]>
            {
                ["a.txt"] = "hello"u8.ToArray(),
                ["b.bin"] = new byte[100_000],
                [Path.Combine("sub", "c.txt")] = "jobq"u8.ToArray(),
                [Path.Combine("sub", "empty")] = [],
            };
            foreach (var (path, content) in files)
            {
                await File.WriteAllBytesAsync(Path.Combine(tree, path), content);
            }

            var manifest = Path.Combine(root, "manifest.sha256");

            var text = await RunTextAsync(new ChecksumSample(tree, manifest));

            StringAssert.Contains(text, "files hashed: 4,");
            StringAssert.Contains(text, "failed: 0");
            StringAssert.Contains(text, $"manifest: {manifest}");
            var expected = files.Select(f => $"{Convert.ToHexStringLower(SHA256.HashData(f.Value))}  {f.Key}").Order().ToArray();
            var written = (await File.ReadAllLinesAsync(manifest)).Order().ToArray();
            CollectionAssert.AreEqual(expected, written);
            var stages = TableRows(text).Select(r => r[0]).ToArray();
            CollectionAssert.IsSubsetOf(new[] { "list", "read", "hash", "manifest" }, stages, "the stats table names every stage");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public async Task RunAsync_ChecksumSampleWithoutDirectory_HashesATreeItCreatesThenRemovesIt()
    {
        var root = Directory.CreateTempSubdirectory("jobq-samples-test-").FullName;
        try
        {
            var manifest = Path.Combine(root, "manifest.sha256");

            var text = await RunTextAsync(new ChecksumSample(manifestPath: manifest));

            var created = Regex.Match(text, @"created a sample tree: (\S+)").Groups[1].Value;
            Assert.IsFalse(string.IsNullOrEmpty(created), text);
            Assert.IsFalse(Directory.Exists(created), "the sample removes the tree it created");
            StringAssert.Contains(text, $"removed the sample tree: {created}");
            StringAssert.Contains(text, "files hashed: 160,");
            var lines = await File.ReadAllLinesAsync(manifest);
            Assert.HasCount(160, lines);
            Assert.IsTrue(lines.All(l => Sha256Line().IsMatch(l)), string.Join("\n", lines.Take(3)));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public async Task RunAsync_ChecksumSampleOnAMissingDirectory_ThrowsDirectoryNotFound()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"jobq-no-such-dir-{Guid.NewGuid():N}");

        var thrown = await Assert.ThrowsExactlyAsync<DirectoryNotFoundException>(() => RunTextAsync(new ChecksumSample(missing)));

        Assert.AreEqual($"no such directory: {missing}", thrown.Message);
    }

    [TestMethod]
    public void Create_Catalog_HasUniqueNamesDescriptionsAndTheSixSynopsisSamples()
    {
        var samples = SampleCatalog.Create();

        Assert.AreEqual(samples.Count, samples.Select(s => s.Name).Distinct().Count());
        Assert.IsTrue(samples.All(s => !string.IsNullOrWhiteSpace(s.Description) && !s.Description.Contains('\n', StringComparison.Ordinal)));
        CollectionAssert.AreEqual(
            new[] { "run", "chain", "threads", "keep-order", "empty-rst", "job-manager-echo" },
            samples.Where(s => s.IsSynopsis).Select(s => s.Name).ToArray());
        CollectionAssert.IsSubsetOf(
            new[] { "accounts", "rate-limit", "job-manager", "checksum" },
            samples.Where(s => !s.IsSynopsis).Select(s => s.Name).ToArray());
    }

    [TestMethod]
    public void Readme_JobqSynopsisSnippets_AreTheSamplesCode()
    {
        var repo = RepositoryRoot();
        var readme = File.ReadAllText(Path.Combine(repo, "README.md")).ReplaceLineEndings("\n");
        var sampleLines = Directory.EnumerateFiles(Path.Combine(repo, "JobQ.Dataflow.Samples", "Samples"), "*.cs")
            .SelectMany(File.ReadAllLines)
            .Select(l => l.Trim())
            .ToHashSet(StringComparer.Ordinal);

        // The synopsis blocks are those that show jobq's calls in comments ("// jobq.run(...)", "// jm = jobq...").
        var blocks = CSharpBlock().Matches(readme)
            .Select(m => m.Groups[1].Value)
            .Where(b => b.Split('\n').Any(l => JobqCall().IsMatch(l)))
            .ToList();
        Assert.IsNotEmpty(blocks, "the README has jobq's synopsis in C#");

        var checkedLines = 0;
        foreach (var line in blocks.SelectMany(b => b.Split('\n')).Select(l => l.Trim()))
        {
            if (line.Length == 0 || line.StartsWith("//", StringComparison.Ordinal) || line.StartsWith("using ", StringComparison.Ordinal))
            {
                continue;
            }

            // The README prints to the console and declares top-level static functions; a sample prints to the
            // writer it is given, from private static methods or local functions.
            var printing = line.Replace("Console.WriteLine(", "output.WriteLine(", StringComparison.Ordinal);
            string[] candidates = [line, printing, "private " + printing, printing.StartsWith("static ", StringComparison.Ordinal) ? printing["static ".Length..] : printing];
            Assert.IsTrue(candidates.Any(sampleLines.Contains), $"README line not found in the samples: {line}");
            checkedLines++;
        }

        Assert.IsGreaterThanOrEqualTo(10, checkedLines);
    }

    [TestMethod]
    public async Task Readme_EmptyRstLambdaForms_AreShownAndCompileAndDrop()
    {
        // The README shows these forms in prose; the same forms are compiled and run here, so they cannot rot.
        var readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        Assert.Contains("`.Then<int>(x => x % 2 == 0 ? JobQueue.EmptyRst : x)`", readme);
        Assert.Contains("`.Then(WorkerResult<int> (x) => x % 2 == 0 ? JobQueue.EmptyRst : x)`", readme);
        var byTypeArgument = new List<int>();
        var byReturnType = new List<int>();

        await JobQueue.RunAsync(Enumerable.Range(0, 6), Workers.Of<int>().Then<int>(x => x % 2 == 0 ? JobQueue.EmptyRst : x).Then(byTypeArgument.Add)).WaitAsync(Bound);
        await JobQueue.RunAsync(Enumerable.Range(0, 6), Workers.Of<int>().Then(WorkerResult<int> (x) => x % 2 == 0 ? JobQueue.EmptyRst : x).Then(byReturnType.Add)).WaitAsync(Bound);

        CollectionAssert.AreEqual(new[] { 1, 3, 5 }, byTypeArgument);
        CollectionAssert.AreEqual(new[] { 1, 3, 5 }, byReturnType);
    }

    private static async Task<string[]> RunLinesAsync(ISample sample)
    {
        var text = await RunTextAsync(sample);
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
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

    private static int ParseInt(string cell) => int.Parse(cell, NumberStyles.Integer | NumberStyles.AllowThousands, CultureInfo.InvariantCulture);

    private static double ParseDouble(string cell) => double.Parse(cell, NumberStyles.Float | NumberStyles.AllowThousands, CultureInfo.InvariantCulture);

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "JobQ.Dataflow.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No JobQ.Dataflow.sln above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex(@"```csharp[^\n]*\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex(@"^\s*// (jm = )?jobq\.")]
    private static partial Regex JobqCall();

    [GeneratedRegex(@"^[0-9a-f]{64}  (docs|images|src)/")]
    private static partial Regex Sha256Line();
}
