using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Blocks.Contract;

/// <summary><see cref="JobQueue.CreatePartitionedBlock{TIn, TOut}(Func{TIn, TOut}, int, Func{TIn, int}, JobOptions?, CancellationToken)"/>
/// with 3 partitions and the item as its own key: it keeps input order whatever the options.</summary>
[TestClass]
public sealed class PartitionedBlockContractTests : BlockContractTests
{
    private const int Partitions = 3;

    /// <summary>Items 0, 1, 2 go to the three partitions, one call held in each.</summary>
    protected override int HeldCallsWhenFull => Partitions;

    private protected override IPropagatorBlock<int, int> Create(GatedWorker worker, BlockKnobs knobs) =>
        JobQueue.CreatePartitionedBlock<int, int>(
            worker.Invoke,
            Partitions,
            dispatcher: x => x,
            new JobOptions
            {
                QueueSize = knobs.QueueSize,
                KeepOrder = knobs.KeepOrder,
                ErrorPolicy = knobs.ErrorPolicy,
                Probe = knobs.Probe,
            },
            knobs.CancellationToken);

    /// <summary>QueueSize waiting plus one call in progress in each partition.</summary>
    private protected override (int Min, int Max) FullBlockHolds(int queueSize) => (queueSize + Partitions, queueSize + Partitions);

    /// <summary>Multiples of the partition count share partition 0.</summary>
    private protected override int SameLaneItem(int index) => index * Partitions;
}
