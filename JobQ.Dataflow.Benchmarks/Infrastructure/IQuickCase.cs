namespace JobQ.Dataflow.Benchmarks.Infrastructure;

/// <summary>A group of rows of the quick table, measured together (they share a warm-up or a baseline).</summary>
internal interface IQuickCase
{
    /// <summary>Gets the name <c>--only</c> matches against (a substring of it selects the case).</summary>
    string Name { get; }

    /// <summary>Measures the case and returns its rows; progress and raw samples go to stderr.</summary>
    /// <param name="settings">Sizes and repetition counts of this run (shrunk by <c>--smoke</c>).</param>
    /// <returns>The rows, in table order.</returns>
    IEnumerable<Row> Run(QuickSettings settings);
}
