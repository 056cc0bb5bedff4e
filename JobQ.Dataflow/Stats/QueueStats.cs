namespace JobQ.Dataflow;

/// <summary>A snapshot of one bounded queue: how many items it holds and how many it can hold.</summary>
/// <param name="Size">Items in the queue when the snapshot was taken.</param>
/// <param name="Capacity">The most items the queue holds before whoever puts into it waits.</param>
public readonly record struct QueueStats(int Size, int Capacity);
