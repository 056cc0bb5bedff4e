namespace JobQ.Dataflow.Internal;

/// <summary>The counts one lane keeps, or the sum of several.</summary>
internal struct LaneCounters
{
    public long Started;
    public long Finished;
    public long Failed;
    public long Dropped;

    public void Add(in LaneCounters other)
    {
        Started += other.Started;
        Finished += other.Finished;
        Failed += other.Failed;
        Dropped += other.Dropped;
    }
}
