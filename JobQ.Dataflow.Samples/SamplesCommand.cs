using System.CommandLine;
using Spectre.Console;

namespace JobQ.Dataflow.Samples;

/// <summary>The samples' command line: <c>[NAME|all] [--dir DIR]</c>.</summary>
public static class SamplesCommand
{
    /// <summary>Parses <paramref name="args"/> and runs what they ask for, writing to <paramref name="output"/>.</summary>
    /// <param name="args">The command-line arguments.</param>
    /// <param name="output">Where the samples and the help are written: <see cref="Console.Out"/> from <c>Program</c>, a <see cref="StringWriter"/> in tests.</param>
    /// <param name="error">Where errors are written: <see cref="Console.Error"/> from <c>Program</c>.</param>
    /// <param name="cancellationToken">Stops a running sample.</param>
    /// <returns>The exit code: 0 on success, non-zero for a bad command line.</returns>
    public static Task<int> InvokeAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default) =>
        InvokeAsync(args, output, error, SampleCatalog.Create, cancellationToken);

    /// <summary>As the public overload, with the samples made by <paramref name="createCatalog"/> (given the <c>--dir</c> value), so tests can add their own.</summary>
    internal static Task<int> InvokeAsync(string[] args, TextWriter output, TextWriter error, Func<string?, IReadOnlyList<ISample>> createCatalog, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(createCatalog);
        var console = SampleConsole.For(output);

        var checksumDirectory = new Option<string?>("--dir")
        {
            Description = "The directory the checksum sample hashes (default: a small tree it creates and removes).",
        };
        var sampleName = new Argument<string?>("name")
        {
            Description = "The sample to run, or 'all'. With no name: list the samples, then run the jobq synopsis ones.",
            Arity = ArgumentArity.ZeroOrOne,
            HelpName = "name",
        };
        sampleName.AcceptOnlyFromAmong([.. createCatalog(null).Select(s => s.Name), "all"]);

        var root = new RootCommand(
            "JobQ.Dataflow samples.\n" +
            "  (no name)  list every sample, then run the jobq synopsis ones\n" +
            "  NAME       run one sample\n" +
            "  all        run every sample")
        {
            sampleName,
            checksumDirectory,
        };

        root.SetAction(async (parseResult, ct) =>
        {
            var samples = createCatalog(parseResult.GetValue(checksumDirectory));
            var name = parseResult.GetValue(sampleName);
            IEnumerable<ISample> toRun;
            if (name is null)
            {
                WriteList(console, samples);
                toRun = samples.Where(s => s.IsSynopsis);
            }
            else
            {
                toRun = name == "all" ? samples : samples.Where(s => s.Name == name);
            }

            foreach (var sample in toRun)
            {
                console.Write(new Rule($"[bold]{Markup.Escape(sample.Name)}[/]").LeftJustified());
                console.MarkupLine($"[grey]{Markup.Escape(sample.Description)}[/]");
                await sample.RunAsync(output, ct);
                console.WriteLine();
            }

            return 0;
        });

        return root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken);
    }

    private static void WriteList(IAnsiConsole console, IEnumerable<ISample> samples)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("JobQ.Dataflow samples");
        table.AddColumn("Name");
        table.AddColumn("Kind");
        table.AddColumn("Description");
        foreach (var sample in samples)
        {
            table.AddRow(Markup.Escape(sample.Name), sample.IsSynopsis ? "jobq synopsis" : "real world", Markup.Escape(sample.Description));
        }

        console.Write(table);
        console.MarkupLine("Run one with [bold]dotnet run --project JobQ.Dataflow.Samples -- NAME[/], or all of them with [bold]-- all[/]; [bold]-- --help[/] for options.");
        console.WriteLine();
    }
}
