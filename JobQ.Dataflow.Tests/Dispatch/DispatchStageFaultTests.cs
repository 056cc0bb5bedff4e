using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Internal;
using JobQ.Dataflow.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace JobQ.Dataflow.Tests.Dispatch;

/// <summary>
/// A dispatcher's partitions are made on first use, after the run started; a partition block that faults (a bug of
/// ours or of Dataflow's) must stop the run as any other block's fault does, not leave it waiting for its items.
/// </summary>
[TestClass]
public sealed class DispatchStageFaultTests
{
    [TestMethod]
    public async Task Blocks_PartitionMadeDuringTheRunFaults_TheRunStopsWithThatFault()
    {
        using var gate = new Gate();
        var workers = Workers.Of<int>().Then(x => { gate.Pass(); return x; }, threads: 2, dispatcher: x => x, name: "routed").Then(x => x);
        var options = new JobOptions { Logger = NullLogger.Instance, QueueSize = 4 }.Validated("options");
        var built = PipelineBuilder.Build(workers, options, resizable: false, tail: false);
        var pipeline = built.Pipeline;
        pipeline.Start(built.LastCompletion);
        InputFeeder<int>.Start(Enumerable.Range(0, 100), pipeline, built.Head);
        gate.WaitArrivals(1);

        var partition = pipeline.Stages[0].Blocks.Skip(2).First();
        var fault = new InvalidOperationException("a partition broke");
        partition.Fault(fault);
        gate.Open();

        await pipeline.Finished.Within();
        Assert.AreSame(fault, pipeline.Fault);
        Assert.AreEqual(StopReason.Faulted, pipeline.StopReason);
    }
}
