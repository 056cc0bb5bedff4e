namespace JobQ.Dataflow.Samples;

/// <summary>A runnable sample: a name for the command line, a one-line description, and its body.</summary>
public interface ISample
{
    /// <summary>Gets the name used on the command line (<c>dotnet run --project JobQ.Dataflow.Samples -- NAME</c>).</summary>
    string Name { get; }

    /// <summary>Gets a one-line description.</summary>
    string Description { get; }

    /// <summary>Gets a value indicating whether the sample mirrors an example of jobq's README synopsis (run when no name is given).</summary>
    bool IsSynopsis { get; }

    /// <summary>Runs the sample, writing everything it shows to <paramref name="output"/>.</summary>
    /// <param name="output">Where the sample writes; the console when run from the command line.</param>
    /// <param name="cancellationToken">Stops the sample early.</param>
    /// <returns>A task that completes when the sample is done.</returns>
    Task RunAsync(TextWriter output, CancellationToken cancellationToken = default);
}
