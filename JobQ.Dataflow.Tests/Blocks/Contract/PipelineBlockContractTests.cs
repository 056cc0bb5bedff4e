using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Blocks.Contract;

/// <summary><see cref="JobQueue.CreateBlock{TIn, TOut}"/> of a one-stage worker list.</summary>
[TestClass]
public sealed class PipelineBlockContractTests : BlockContractTests
{
    private protected override IPropagatorBlock<int, int> Create(GatedWorker worker, BlockKnobs knobs) =>
        JobQueue.CreateBlock(
            Workers.Of<int>().Then(worker.Invoke, threads: knobs.Parallelism),
            new JobOptions
            {
                QueueSize = knobs.QueueSize,
                KeepOrder = knobs.KeepOrder,
                ErrorPolicy = knobs.ErrorPolicy,
                Probe = knobs.Probe,
            },
            knobs.CancellationToken);

    /// <summary>One thread: QueueSize waiting plus the one call in progress.</summary>
    private protected override (int Min, int Max) FullBlockHolds(int queueSize) => (queueSize + 1, queueSize + 1);
}
