namespace JobQ.Dataflow.Internal;

/// <summary>
/// The message from a partition to the merge: a partition run's outputs, and how many of them each input item gave
/// (0 when it failed or passed nothing on).
/// </summary>
/// <param name="Partition">The partition that processed the run.</param>
/// <param name="Values">The outputs, in the order the items were processed.</param>
/// <param name="Counts">The number of outputs of each input item; a rented array of <paramref name="Items"/> counts.</param>
/// <param name="Items">The number of input items the partition took, whether or not it processed them all.</param>
internal readonly record struct PartitionOutput<T>(int Partition, ItemRun<T> Values, int[] Counts, int Items);
