using System.Globalization;
using System.Text.RegularExpressions;
using JobQ.Dataflow.Samples;

namespace JobQ.Dataflow.Tests.Samples;

/// <summary>The samples' command line: no name lists and runs the synopsis samples, NAME runs one, --help says so.</summary>
[TestClass]
public sealed class SamplesCommandTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [TestMethod]
    public async Task InvokeAsync_NoArgument_ListsEverySampleAndRunsOnlyTheSynopsisOnes()
    {
        var (exitCode, text) = await InvokeAsync();

        Assert.AreEqual(0, exitCode, text);
        foreach (var sample in SampleCatalog.Create())
        {
            StringAssert.Contains(text, $"│ {sample.Name} ", $"listed: {sample.Name}");
        }

        foreach (var example in new[]
        {
            "jobq.run([0, 1, 2], [add1, printarg])",
            "jobq.run((0, 1, 2), [add1, multi2, printarg])",
            "jobq.run(range(3), [add1, (multi2, 2), printarg])",
            "jobq.run(range(3), [add1, (multi2, 2), printarg], keep_order=True)",
            "jobq.run(range(10), [drop_even_number, printarg])",
            "jm = jobq.JobManager([_echo])",
        })
        {
            StringAssert.Contains(text, example);
        }

        Assert.DoesNotContain("per-account order held", text, "real-world samples run only when named");
    }

    [TestMethod]
    public async Task InvokeAsync_Name_RunsOnlyThatSample()
    {
        var (exitCode, text) = await InvokeAsync("empty-rst");

        Assert.AreEqual(0, exitCode, text);
        StringAssert.Contains(text, "jobq.run(range(10), [drop_even_number, printarg])\n1\n3\n5\n7\n9\n");
        Assert.DoesNotContain("jobq.run([0, 1, 2]", text);
        Assert.DoesNotContain("JobQ.Dataflow samples", text, "no list when a name is given");
    }

    [TestMethod]
    public async Task InvokeAsync_TwoNames_RunsBothInTheOrderGiven()
    {
        var (exitCode, output, error) = await InvokeSplitAsync("chain", "run");

        Assert.AreEqual(SamplesCommand.Success, exitCode, error);
        var chain = output.IndexOf("jobq.run((0, 1, 2), [add1, multi2, printarg])\n2\n4\n6\n", StringComparison.Ordinal);
        var run = output.IndexOf("jobq.run([0, 1, 2], [add1, printarg])\n1\n2\n3\n", StringComparison.Ordinal);
        Assert.IsTrue(chain >= 0 && run > chain, $"chain, then run: {output}");
        Assert.DoesNotContain("jobq.run(range(3)", output, "only the named samples");
        Assert.AreEqual(string.Empty, error);
    }

    [TestMethod]
    public async Task InvokeAsync_AnUnknownNameAmongSeveral_FailsBeforeRunningAny()
    {
        var (exitCode, output, error) = await InvokeSplitAsync("run", "no-such-sample");

        Assert.AreEqual(SamplesCommand.UsageError, exitCode, error);
        StringAssert.StartsWith(error, "error: unknown sample 'no-such-sample'.\n");
        Assert.AreEqual(string.Empty, output);
    }

    [TestMethod]
    public async Task InvokeAsync_AllWithANameToo_IsRefused()
    {
        var (exitCode, output, error) = await InvokeSplitAsync("run", "all");

        Assert.AreEqual(SamplesCommand.UsageError, exitCode, error);
        StringAssert.StartsWith(error, "error: 'all' runs every sample: give it alone, or name the samples to run.\n");
        Assert.AreEqual(string.Empty, output);
    }

    [TestMethod]
    [DataRow("run", "--dir", ".")]
    [DataRow("run", "chain", "--dir", ".")]
    [DataRow("--dir", ".")]
    public async Task InvokeAsync_DirWithoutChecksum_IsRefusedNamingTheSamplesThatTakeIt(params string[] args)
    {
        var (exitCode, output, error) = await InvokeSplitAsync(args);

        Assert.AreEqual(SamplesCommand.UsageError, exitCode, error);
        StringAssert.StartsWith(error, "error: option '--dir' is only taken by the checksum sample, which is not among the samples to run (");
        Assert.AreEqual(string.Empty, output, "nothing runs");
    }

    [TestMethod]
    [DataRow("run", "--out", "manifest.sha256")]
    [DataRow("--out", "manifest.sha256")]
    public async Task InvokeAsync_OutWithoutChecksum_IsRefusedNamingTheSamplesThatTakeIt(params string[] args)
    {
        var (exitCode, output, error) = await InvokeSplitAsync(args);

        Assert.AreEqual(SamplesCommand.UsageError, exitCode, error);
        StringAssert.StartsWith(error, "error: option '--out' is only taken by the checksum sample, which is not among the samples to run (");
        Assert.AreEqual(string.Empty, output, "nothing runs");
    }

    [TestMethod]
    public async Task InvokeAsync_OutInAMissingFolder_FailsBeforeRunningAny()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"jobq-no-such-dir-{Guid.NewGuid():N}");

        var (exitCode, output, error) = await InvokeSplitAsync("run", "checksum", "--out", Path.Combine(missing, "manifest.sha256"));

        Assert.AreEqual(SamplesCommand.UsageError, exitCode, error);
        StringAssert.StartsWith(error, $"error: option '--out': no such directory: {missing}\n");
        Assert.AreEqual(string.Empty, output);
    }

    [TestMethod]
    [DataRow("--dir")]
    [DataRow("--out")]
    public async Task InvokeAsync_EmptyPath_IsAUsageError(string option)
    {
        var (exitCode, output, error) = await InvokeSplitAsync("checksum", option, "");

        Assert.AreEqual(SamplesCommand.UsageError, exitCode, error);
        StringAssert.StartsWith(error, $"error: option '{option}': the path is empty.\n");
        Assert.AreEqual(string.Empty, output);
    }

    [TestMethod]
    public async Task InvokeAsync_OptionWithoutItsValue_IsAUsageErrorOnStderr()
    {
        var (exitCode, output, error) = await InvokeSplitAsync("checksum", "--dir");

        Assert.AreEqual(SamplesCommand.UsageError, exitCode, error);
        StringAssert.StartsWith(error, "error: Required argument missing for option: '--dir'.\n");
        StringAssert.Contains(error, "-- --help' for usage and options.");
        Assert.AreEqual(string.Empty, output);
    }

    [TestMethod]
    public async Task InvokeAsync_ChecksumWithDirAndOut_KeepsTheManifestInOutAndWritesNothingInDir()
    {
        var root = Directory.CreateTempSubdirectory("jobq-samples-test-").FullName;
        try
        {
            var tree = Directory.CreateDirectory(Path.Combine(root, "tree")).FullName;
            await File.WriteAllTextAsync(Path.Combine(tree, "a.txt"), "hello");
            var manifest = Path.Combine(root, "manifest.sha256");

            var (exitCode, output, error) = await InvokeSplitAsync("checksum", "--dir", tree, "--out", manifest);

            Assert.AreEqual(SamplesCommand.Success, exitCode, error);
            StringAssert.Contains(output, $"manifest: {manifest}\n");
            CollectionAssert.AreEqual(
                new[] { "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824  a.txt" },
                await File.ReadAllLinesAsync(manifest));
            CollectionAssert.AreEqual(new[] { "a.txt" }, Directory.EnumerateFileSystemEntries(tree).Select(Path.GetFileName).ToArray());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public async Task InvokeAsync_Help_SaysWhatChecksumWritesAndWhere()
    {
        var (exitCode, output, _) = await InvokeSplitAsync("--help");

        Assert.AreEqual(SamplesCommand.Success, exitCode);
        StringAssert.Matches(output, new Regex(@"--dir <dir>\s+checksum only: the directory to hash, which is only read"));
        StringAssert.Matches(output, new Regex(@"--out <file>\s+checksum only: keep the manifest"));
    }

    [TestMethod]
    public async Task InvokeAsync_DirWithChecksumAmongTheSamples_HashesThatDirectory()
    {
        var root = Directory.CreateTempSubdirectory("jobq-samples-test-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(root, "a.txt"), "hello");

            var (exitCode, output, error) = await InvokeSplitAsync("run", "checksum", "--dir", root);

            Assert.AreEqual(SamplesCommand.Success, exitCode, error);
            StringAssert.Contains(output, $"hashing: {root}");
            StringAssert.Contains(output, "files hashed: 1,");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public async Task InvokeAsync_Help_SaysSeveralNamesRunInOrder()
    {
        var (exitCode, output, _) = await InvokeSplitAsync("--help");

        Assert.AreEqual(SamplesCommand.Success, exitCode);
        StringAssert.Contains(output, "NAME...    run the named samples, one after another in the order given (-- run chain)");
        StringAssert.Contains(output, "A sample that fails stops the run");
    }

    [TestMethod]
    public async Task InvokeAsync_Help_MarksTheOptionsOfOneSample()
    {
        var (exitCode, output, _) = await InvokeSplitAsync("--help");

        Assert.AreEqual(SamplesCommand.Success, exitCode);
        StringAssert.Matches(output, new Regex(@"--dir <dir>\s+checksum only: "));
        StringAssert.Contains(output, "An option marked 'checksum only' is refused unless checksum is among the samples to run.");
    }

    [TestMethod]
    public async Task InvokeAsync_Help_DescribesNameAllAndDir()
    {
        var (exitCode, text) = await InvokeAsync("--help");

        Assert.AreEqual(0, exitCode, text);
        StringAssert.Contains(text, "list every sample, then run the jobq synopsis ones");
        StringAssert.Contains(text, "all");
        StringAssert.Contains(text, "--dir");
        Assert.DoesNotContain("jobq.run(", text, "help runs nothing");
    }

    [TestMethod]
    public async Task InvokeAsync_UnknownName_FailsOnStderrAndNamesTheChoices()
    {
        var (exitCode, output, error) = await InvokeSplitAsync("no-such-sample");

        Assert.AreEqual(SamplesCommand.UsageError, exitCode, error);
        StringAssert.Contains(error, "unknown sample 'no-such-sample'");
        StringAssert.Contains(error, "checksum");
        Assert.AreEqual(string.Empty, output, "nothing runs, and the error goes to the error writer");
    }

    [TestMethod]
    [DataRow("--bogus")]
    [DataRow("run", "--bogus")]
    [DataRow("-x", "run")]
    public async Task InvokeAsync_UnknownOption_SaysSoListsTheSamplesAndHowToGetHelp(params string[] args)
    {
        var (exitCode, output, error) = await InvokeSplitAsync(args);

        Assert.AreEqual(SamplesCommand.UsageError, exitCode, error);
        var unknown = args.First(a => a.StartsWith('-'));
        var lines = error.Split('\n');
        Assert.AreEqual($"error: unknown option '{unknown}'.", lines[0], error);
        foreach (var sample in SampleCatalog.Create())
        {
            Assert.IsTrue(lines.Any(l => l.TrimStart().StartsWith(sample.Name + " ", StringComparison.Ordinal) && l.EndsWith(sample.Description, StringComparison.Ordinal)), $"{sample.Name} listed with its description: {error}");
        }

        StringAssert.Contains(error, "-- --help' for usage and options.");
        Assert.DoesNotContain("not recognized", error);
        Assert.AreEqual(string.Empty, output, "nothing runs");
    }

    [TestMethod]
    public async Task InvokeAsync_ChecksumOnAMissingDirectory_FailsWithTheErrorOnStderr()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"jobq-no-such-dir-{Guid.NewGuid():N}");

        var (exitCode, output, error) = await InvokeSplitAsync("checksum", "--dir", missing);

        Assert.AreEqual(SamplesCommand.UsageError, exitCode, error);
        StringAssert.Contains(error, $"no such directory: {missing}");
        Assert.DoesNotContain("no such directory", output);
        Assert.IsFalse(Directory.Exists(missing));
    }

    [TestMethod]
    public async Task InvokeAsync_SampleThrows_FailsWithTheMessageOnStderrAndRunsNoFurtherSample()
    {
        var (exitCode, output, error) = await InvokeSplitAsync(WithTestSamples, "all");

        Assert.AreEqual(SamplesCommand.SampleFailed, exitCode, error);
        Assert.AreEqual("error: sample 'throws' failed: the disk is on fire (InvalidOperationException)\n", error);
        StringAssert.Contains(output, "jobq.run([0, 1, 2], [add1, printarg])", "the samples before it ran");
        Assert.DoesNotContain("Waits for its token.", output, "the sample after it did not run");
    }

    [TestMethod]
    public async Task InvokeAsync_Cancelled_StopsTheSampleAndExitsWith130()
    {
        using var cancellation = new CancellationTokenSource();
        await cancellation.CancelAsync();

        var (exitCode, output, error) = await InvokeSplitAsync(WithTestSamples, cancellation.Token, "waits");

        Assert.AreEqual(SamplesCommand.Cancelled, exitCode, error);
        Assert.AreEqual("cancelled: sample 'waits' stopped\n", error);
        Assert.DoesNotContain("too late", output);
    }

    [TestMethod]
    public async Task InvokeAsync_OutputNotATerminal_KeepsEachLongLineWhole()
    {
        var (exitCode, output, error) = await InvokeSplitAsync();

        Assert.AreEqual(SamplesCommand.Success, exitCode, error);
        AssertLongLinesWhole(output);
    }

    [TestMethod]
    public async Task Main_OutputRedirected_KeepsEachLongLineWhole()
    {
        var (exitCode, output, error) = await SamplesProcess.RunAsync();

        Assert.AreEqual(SamplesCommand.Success, exitCode, error);
        AssertLongLinesWhole(output);
        Assert.DoesNotContain("\u001b[", output, "no terminal escapes in redirected output");
    }

    [TestMethod]
    public async Task Main_ChecksumOnAMissingDirectory_ExitsNonZeroWithTheErrorOnStderr()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"jobq-no-such-dir-{Guid.NewGuid():N}");

        var (exitCode, output, error) = await SamplesProcess.RunAsync("checksum", "--dir", missing);

        Assert.AreEqual(SamplesCommand.UsageError, exitCode, error);
        StringAssert.Contains(error, $"no such directory: {missing}");
        Assert.DoesNotContain("no such directory", output);
    }

    // The list's hint and every sample's row (with its whole description) are each one line, however long.
    private static void AssertLongLinesWhole(string output)
    {
        var lines = output.Split('\n');
        var hint = lines.SingleOrDefault(l => l.StartsWith("Run some with", StringComparison.Ordinal));
        Assert.IsNotNull(hint, output);
        Assert.EndsWith("for options.", hint, output);
        Assert.IsGreaterThan(120, hint.Length, "the hint is longer than any default width");
        foreach (var sample in SampleCatalog.Create())
        {
            Assert.IsTrue(lines.Any(l => l.Contains($"│ {sample.Name} ", StringComparison.Ordinal) && l.Contains($"│ {sample.Description} ", StringComparison.Ordinal)), $"{sample.Name}'s row is one line: {output}");
        }

        Assert.IsTrue(SampleCatalog.Create().Any(s => s.Description.Length > 120), "some description is longer than any default width");
    }

    // Runs the command line in-process; the text is what it wrote to its output, then what it wrote to its error writer.
    private static async Task<(int ExitCode, string Text)> InvokeAsync(params string[] args)
    {
        var (exitCode, output, error) = await InvokeSplitAsync(args);
        return (exitCode, output + error);
    }

    private static Task<(int ExitCode, string Output, string Error)> InvokeSplitAsync(params string[] args) =>
        InvokeSplitAsync(SampleCatalog.Create, CancellationToken.None, args);

    private static Task<(int ExitCode, string Output, string Error)> InvokeSplitAsync(Func<string?, string?, IReadOnlyList<ISample>> createCatalog, params string[] args) =>
        InvokeSplitAsync(createCatalog, CancellationToken.None, args);

    private static async Task<(int ExitCode, string Output, string Error)> InvokeSplitAsync(
        Func<string?, string?, IReadOnlyList<ISample>> createCatalog, CancellationToken cancellationToken, params string[] args)
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        using var error = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        var exitCode = await SamplesCommand.InvokeAsync(args, output, error, createCatalog, cancellationToken).WaitAsync(Bound);
        return (exitCode, output.ToString(), error.ToString());
    }

    // The real samples, then one that throws and one that waits until it is cancelled.
    private static IReadOnlyList<ISample> WithTestSamples(string? checksumDirectory, string? checksumManifest) =>
        [.. SampleCatalog.Create(checksumDirectory, checksumManifest).Where(s => s.IsSynopsis), new ThrowingSample(), new WaitingSample()];

    private sealed class ThrowingSample : ISample
    {
        public string Name => "throws";

        public string Description => "Throws.";

        public bool IsSynopsis => false;

        public Task RunAsync(TextWriter output, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("the disk is on fire");
    }

    private sealed class WaitingSample : ISample
    {
        public string Name => "waits";

        public string Description => "Waits for its token.";

        public bool IsSynopsis => false;

        public async Task RunAsync(TextWriter output, CancellationToken cancellationToken = default)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            output.WriteLine("cancelled too late");
        }
    }
}
