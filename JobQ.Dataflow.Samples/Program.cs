using System.CommandLine;
using JobQ.Dataflow.Samples;
using Spectre.Console;

var checksumDirectory = new Option<string?>("--dir")
{
    Description = "The directory the checksum sample hashes (default: a small tree it creates and removes).",
};
var samples = SampleCatalog.Create();
var names = samples.Select(s => s.Name).Append("all").ToArray();
var sampleName = new Argument<string?>("name")
{
    Description = "The sample to run, or 'all'. With no name: list the samples, then run the jobq synopsis ones.",
    Arity = ArgumentArity.ZeroOrOne,
    HelpName = "name",
};
sampleName.AcceptOnlyFromAmong(names);

var root = new RootCommand(
    "JobQ.Dataflow samples.\n" +
    "  (no name)  list every sample, then run the jobq synopsis ones\n" +
    "  NAME       run one sample\n" +
    "  all        run every sample")
{
    sampleName,
    checksumDirectory,
};

root.SetAction(async (parseResult, cancellationToken) =>
{
    var chosen = SampleCatalog.Create(parseResult.GetValue(checksumDirectory));
    var name = parseResult.GetValue(sampleName);
    IEnumerable<ISample> toRun;
    if (name is null)
    {
        WriteList(chosen);
        toRun = chosen.Where(s => s.IsSynopsis);
    }
    else
    {
        toRun = name == "all" ? chosen : chosen.Where(s => s.Name == name);
    }

    foreach (var sample in toRun)
    {
        AnsiConsole.Write(new Rule($"[bold]{Markup.Escape(sample.Name)}[/]").LeftJustified());
        AnsiConsole.MarkupLine($"[grey]{Markup.Escape(sample.Description)}[/]");
        await sample.RunAsync(Console.Out, cancellationToken);
        AnsiConsole.WriteLine();
    }

    return 0;
});

return await root.Parse(args).InvokeAsync();

static void WriteList(IEnumerable<ISample> samples)
{
    var table = new Table().Border(TableBorder.Rounded).Title("JobQ.Dataflow samples");
    table.AddColumn("Name");
    table.AddColumn("Kind");
    table.AddColumn("Description");
    foreach (var sample in samples)
    {
        table.AddRow(Markup.Escape(sample.Name), sample.IsSynopsis ? "jobq synopsis" : "real world", Markup.Escape(sample.Description));
    }

    AnsiConsole.Write(table);
    AnsiConsole.MarkupLine("Run one with [bold]dotnet run --project JobQ.Dataflow.Samples -- NAME[/], or all of them with [bold]-- all[/]; [bold]-- --help[/] for options.");
    AnsiConsole.WriteLine();
}
