namespace JobQ.Dataflow;

/// <summary>A snapshot of one partition of a dispatcher stage.</summary>
/// <param name="Input">The partition's input queue (items routed to it, not yet taken).</param>
/// <param name="Output">The partition's output queue (results waiting to be put back in input order).</param>
public sealed record PartitionStats(QueueStats Input, QueueStats Output);
