using System.CommandLine;
using Spectre.Console;

namespace JobQ.Dataflow.Samples;

/// <summary>The samples' command line: <c>[NAME... | all] [--dir DIR] [--out FILE]</c>.</summary>
public static class SamplesCommand
{
    // How the README runs the app; used in the hints it prints.
    private const string Launch = "dotnet run --project JobQ.Dataflow.Samples --";

    /// <summary>The exit code when every sample asked for ran to completion (or help was shown).</summary>
    public const int Success = 0;

    /// <summary>The exit code when a sample threw: the rest are not run.</summary>
    public const int SampleFailed = 1;

    /// <summary>The exit code for a bad command line (unknown option or sample, an option no sample to run takes, a missing directory); nothing is run.</summary>
    public const int UsageError = 2;

    /// <summary>The exit code when the run was cancelled (Ctrl+C): 128 + SIGINT, as shells report it.</summary>
    public const int Cancelled = 130;

    /// <summary>Parses <paramref name="args"/> and runs what they ask for, writing to <paramref name="output"/>.</summary>
    /// <param name="args">The command-line arguments.</param>
    /// <param name="output">Where the samples and the help are written: <see cref="Console.Out"/> from <c>Program</c>, a <see cref="StringWriter"/> in tests.</param>
    /// <param name="error">Where errors are written: <see cref="Console.Error"/> from <c>Program</c>.</param>
    /// <param name="cancellationToken">Stops a running sample.</param>
    /// <returns>The exit code: <see cref="Success"/>, <see cref="SampleFailed"/>, <see cref="UsageError"/> or <see cref="Cancelled"/>.</returns>
    public static Task<int> InvokeAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default) =>
        InvokeAsync(args, output, error, SampleCatalog.Create, cancellationToken);

    /// <summary>As the public overload, with the samples made by <paramref name="createCatalog"/> (given the <c>--dir</c> and <c>--out</c> values), so tests can add their own.</summary>
    internal static async Task<int> InvokeAsync(string[] args, TextWriter output, TextWriter error, Func<string?, string?, IReadOnlyList<ISample>> createCatalog, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(createCatalog);
        var console = SampleConsole.For(output);
        var names = createCatalog(null, null).Select(s => s.Name).ToList();

        var checksumDirectory = new Option<string?>("--dir")
        {
            Description = "checksum only: the directory to hash, which is only read (default: a small tree the sample creates and removes).",
        };
        var checksumManifest = new Option<string?>("--out")
        {
            Description = "checksum only: keep the manifest (sha256sum format) in this file, replaced only when the run succeeds " +
                "(default: a temporary file, partly shown, then removed).",
            HelpName = "file",
        };
        var sampleNames = new Argument<string[]>("NAME")
        {
            Description = "The samples to run, in order, or 'all'. With no name: list the samples, then run the jobq synopsis ones.",
            Arity = ArgumentArity.ZeroOrMore,
            HelpName = "NAME",
        };

        // The options a sample reads, with the samples that read them: giving one when none of those runs is refused.
        (Option Option, string[] TakenBy)[] sampleOptions = [(checksumDirectory, ["checksum"]), (checksumManifest, ["checksum"])];

        var root = new RootCommand(
            "JobQ.Dataflow samples.\n" +
            "  (no name)  list every sample, then run the jobq synopsis ones\n" +
            "  NAME...    run the named samples, one after another in the order given (-- run chain)\n" +
            "  all        run every sample\n" +
            "A sample that fails stops the run. Errors go to standard error. Exit codes: 0 done,\n" +
            "1 a sample failed (the rest are not run), 2 a bad command line (nothing is run), 130 cancelled.\n" +
            "An option marked 'checksum only' is refused unless checksum is among the samples to run.")
        {
            sampleNames,
            checksumDirectory,
            checksumManifest,
        };

        root.SetAction(async (parseResult, ct) =>
        {
            var asked = parseResult.GetValue(sampleNames) ?? [];
            if (asked.FirstOrDefault(n => n != "all" && !names.Contains(n)) is { } unknown)
            {
                return Usage(error, createCatalog(null, null), $"unknown sample '{unknown}'.");
            }

            if (asked.Length > 1 && asked.Contains("all"))
            {
                return Usage(error, null, "'all' runs every sample: give it alone, or name the samples to run.");
            }

            var toRun = Select(createCatalog(null, null), asked).Select(s => s.Name).ToList();
            foreach (var (option, takenBy) in sampleOptions)
            {
                if (parseResult.GetResult(option) is not null && !toRun.Intersect(takenBy).Any())
                {
                    var takers = takenBy.Length == 1 ? $"the {takenBy[0]} sample, which is" : $"the {string.Join(", ", takenBy)} samples, which are";
                    return Usage(error, null, $"option '{option.Name}' is only taken by {takers} not among the samples to run ({string.Join(", ", toRun)}).");
                }
            }

            var directory = parseResult.GetValue(checksumDirectory);
            var manifest = parseResult.GetValue(checksumManifest);
            foreach (var (option, value) in new[] { (checksumDirectory, directory), (checksumManifest, manifest) })
            {
                if (value is not null && string.IsNullOrWhiteSpace(value))
                {
                    return Usage(error, null, $"option '{option.Name}': the path is empty.");
                }
            }

            if (directory is not null && !Directory.Exists(directory))
            {
                return Usage(error, null, $"option '--dir': no such directory: {Path.GetFullPath(directory)}");
            }

            var manifestFolder = manifest is null ? null : Path.GetDirectoryName(Path.GetFullPath(manifest));
            if (manifestFolder is not null && !Directory.Exists(manifestFolder))
            {
                return Usage(error, null, $"option '--out': no such directory: {manifestFolder}");
            }

            var samples = createCatalog(directory, manifest);
            if (asked.Length == 0)
            {
                WriteList(console, samples);
            }

            foreach (var sample in Select(samples, asked))
            {
                SampleConsole.WriteHeading(console, output, sample.Name);
                console.MarkupLine($"[grey]{Markup.Escape(sample.Description)}[/]");
                try
                {
                    await sample.RunAsync(output, ct);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    await error.WriteLineAsync($"cancelled: sample '{sample.Name}' stopped");
                    return Cancelled;
                }
                catch (Exception e)
                {
                    await error.WriteLineAsync($"error: sample '{sample.Name}' failed: {e.Message} ({e.GetType().Name})");
                    return SampleFailed;
                }

                console.WriteLine();
            }

            return Success;
        });

        var parsed = root.Parse(args);

        // A token that looks like an option but is none is taken by the parser as a sample name or left unmatched.
        var positional = parsed.UnmatchedTokens.Concat(parsed.GetValue(sampleNames) ?? []).ToHashSet(StringComparer.Ordinal);
        var unknownOption = args.FirstOrDefault(a => a.StartsWith('-') && positional.Contains(a));
        if (unknownOption is not null)
        {
            return Usage(error, createCatalog(null, null), $"unknown option '{unknownOption}'.");
        }

        if (parsed.Errors.Count > 0)
        {
            return Usage(error, null, [.. parsed.Errors.Select(e => e.Message)]);
        }

        return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken);
    }

    // The samples to run, in order: the synopsis ones for no name, every one for 'all', else the ones named.
    private static IEnumerable<ISample> Select(IReadOnlyList<ISample> samples, string[] asked) =>
        asked switch
        {
            [] => samples.Where(s => s.IsSynopsis),
            ["all"] => samples,
            _ => asked.Select(n => samples.Single(s => s.Name == n)),
        };

    // Writes command-line errors, the samples when they help, and where to find the usage; nothing has run.
    private static int Usage(TextWriter error, IReadOnlyList<ISample>? samples, params string[] messages)
    {
        foreach (var message in messages)
        {
            error.WriteLine($"error: {message}");
        }

        if (samples is not null)
        {
            var width = samples.Max(s => s.Name.Length);
            error.WriteLine("Samples:");
            foreach (var sample in samples)
            {
                error.WriteLine($"  {sample.Name.PadRight(width)}  {sample.Description}");
            }

            error.WriteLine($"  {"all".PadRight(width)}  Every sample above, in this order.");
        }

        error.WriteLine($"Run '{Launch} --help' for usage and options.");
        return UsageError;
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
        console.MarkupLine("Run some with [bold]dotnet run --project JobQ.Dataflow.Samples -- NAME [[NAME...]][/] (in that order), or all of them with [bold]-- all[/]; [bold]-- --help[/] for options.");
        console.WriteLine();
    }
}
