namespace JobQ.Dataflow.Benchmarks.Infrastructure;

/// <summary>
/// The last stage of the chains: a per-run running total. The stage runs on one thread at a time (threads 1,
/// MaxDegreeOfParallelism 1), and the total is read after the run has completed, so a plain field is enough.
/// </summary>
internal sealed class Summer
{
    /// <summary>Gets the sum of every item added.</summary>
    public long Total { get; private set; }

    /// <summary>Adds one item.</summary>
    /// <param name="x">The item.</param>
    public void Add(int x) => Total += x;
}
