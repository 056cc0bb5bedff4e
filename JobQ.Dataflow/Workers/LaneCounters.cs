using System.Runtime.InteropServices;

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

/// <summary>
/// The fields a lane writes per item (its counters and claim) and a thief's tripwire, on a cache line of their own:
/// lanes of one pipeline are allocated close together, and two lanes' per-item writes on one line would slow both.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 3 * CacheLine)]
internal struct LaneHotFields
{
    private const int CacheLine = 64;

    [FieldOffset(CacheLine)]
    public LaneCounters Counters;

    [FieldOffset(CacheLine + 32)]
    public int Claimed;

    [FieldOffset(CacheLine + 36)]
    public int Limit;
}
