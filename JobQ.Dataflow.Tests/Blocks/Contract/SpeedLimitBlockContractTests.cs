using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Blocks.Contract;

/// <summary>
/// <see cref="JobQueue.CreateSpeedLimitBlock{T}"/> at a rate high enough never to hold an item. Its worker is the
/// limit itself, so the test worker runs inside the rate function, which the limit reads once per item: the
/// worker's gate and call count work as for the other blocks, but a worker that throws for an item cannot be had.
/// </summary>
[TestClass]
public sealed class SpeedLimitBlockContractTests : BlockContractTests
{
    private const double HighRate = 1e9;

    private protected override IPropagatorBlock<int, int> Create(GatedWorker worker, BlockKnobs knobs)
    {
        if (worker.DependsOnItem)
        {
            Assert.Inconclusive("A speed-limit block's worker is the limit itself: no worker of it can throw for an item.");
        }

        return JobQueue.CreateSpeedLimitBlock<int>(
            JobQueue.LimitJobSpeed(() =>
            {
                worker.Hold();
                return HighRate;
            }),
            new JobOptions
            {
                QueueSize = knobs.QueueSize,
                KeepOrder = knobs.KeepOrder,
                ErrorPolicy = knobs.ErrorPolicy,
                Probe = knobs.Probe,
            },
            knobs.CancellationToken);
    }

    /// <summary>Held by the clock instead of a gate: at 1 item a second on a fake clock that never moves, at most
    /// the first item passes; the next one waits on its timer.</summary>
    private protected override HeldBlock FillHeldBlock(int queueSize)
    {
        var clock = new SignallingTimeProvider();
        var block = JobQueue.CreateSpeedLimitBlock<int>(JobQueue.LimitJobSpeed(1), new JobOptions { QueueSize = queueSize, TimeProvider = clock });
        Track(block);
        Assert.IsTrue(block.Post(0));
        Assert.IsTrue(block.Post(1));
        Bounded.Until(() => clock.TimersCreated >= 1, "an item to wait on the limit's timer");
        return new HeldBlock(block, 2, Release: null);
    }

    /// <summary>A stage in a call (waiting on its timer) plus QueueSize waiting, around which the first item may
    /// sit in the output and QueueSize more in the way in: at least QueueSize, at most 2 × QueueSize + 2.</summary>
    private protected override (int Min, int Max) FullBlockHolds(int queueSize) => (queueSize, (2 * queueSize) + 2);
}
