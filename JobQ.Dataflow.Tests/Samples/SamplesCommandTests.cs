using System.Globalization;
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
    public async Task InvokeAsync_Help_DescribesNameAllAndDir()
    {
        var (exitCode, text) = await InvokeAsync("--help");

        Assert.AreEqual(0, exitCode, text);
        StringAssert.Contains(text, "list every sample, then run the jobq synopsis ones");
        StringAssert.Contains(text, "run one sample");
        StringAssert.Contains(text, "all");
        StringAssert.Contains(text, "--dir");
        Assert.DoesNotContain("jobq.run(", text, "help runs nothing");
    }

    [TestMethod]
    public async Task InvokeAsync_UnknownName_FailsAndNamesTheChoices()
    {
        var (exitCode, text) = await InvokeAsync("no-such-sample");

        Assert.AreNotEqual(0, exitCode);
        StringAssert.Contains(text, "no-such-sample");
        StringAssert.Contains(text, "checksum");
        Assert.DoesNotContain("jobq.run(", text);
    }

    // Runs the command line in-process; the text is what it wrote to its output, then what it wrote to its error writer.
    private static async Task<(int ExitCode, string Text)> InvokeAsync(params string[] args)
    {
        var (exitCode, output, error) = await InvokeSplitAsync(args);
        return (exitCode, output + error);
    }

    private static async Task<(int ExitCode, string Output, string Error)> InvokeSplitAsync(params string[] args)
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        using var error = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        var exitCode = await SamplesCommand.InvokeAsync(args, output, error).WaitAsync(Bound);
        return (exitCode, output.ToString(), error.ToString());
    }
}
