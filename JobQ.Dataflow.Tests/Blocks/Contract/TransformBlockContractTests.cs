using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Blocks.Contract;

/// <summary>The control: Dataflow's own <see cref="TransformBlock{TInput, TOutput}"/> passes every case.</summary>
[TestClass]
public sealed class TransformBlockContractTests : BlockContractTests
{
    /// <summary>Gets false: a TransformBlock has no probe.</summary>
    protected override bool CountsFailures => false;

    private protected override IPropagatorBlock<int, int> Create(GatedWorker worker, BlockKnobs knobs) =>
        new TransformBlock<int, int>(worker.Invoke, new ExecutionDataflowBlockOptions
        {
            BoundedCapacity = knobs.QueueSize,
            MaxDegreeOfParallelism = knobs.Parallelism,
            CancellationToken = knobs.CancellationToken,
        });

    /// <summary>BoundedCapacity counts every item in the block, the one in the worker included.</summary>
    private protected override (int Min, int Max) FullBlockHolds(int queueSize) => (queueSize, queueSize);
}
