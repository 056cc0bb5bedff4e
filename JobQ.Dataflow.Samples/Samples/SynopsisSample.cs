namespace JobQ.Dataflow.Samples;

/// <summary>
/// A sample that mirrors one example of jobq's README: it prints the Python call, then exactly what jobq prints.
/// </summary>
public abstract class SynopsisSample : ISample
{
    /// <inheritdoc/>
    public abstract string Name { get; }

    /// <inheritdoc/>
    public abstract string Description { get; }

    /// <inheritdoc/>
    public bool IsSynopsis => true;

    /// <summary>Gets the jobq call this sample mirrors, in Python.</summary>
    public abstract string PythonExample { get; }

    /// <inheritdoc/>
    public Task RunAsync(TextWriter output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.WriteLine(PythonExample);
        Run(output);
        return Task.CompletedTask;
    }

    /// <summary>Runs the C# twin of <see cref="PythonExample"/>, printing to <paramref name="output"/>.</summary>
    /// <param name="output">Where <c>printarg</c> prints.</param>
    protected abstract void Run(TextWriter output);
}
