namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>The last stage of the chains: a running total, touched by one thread at a time.</summary>
internal sealed class Summer
{
    public long Total { get; private set; }

    public void Add(int x) => Total += x;
}
