using System.Threading.Tasks.Dataflow;

namespace JobQ.Dataflow.Tests.Blocks;

[TestClass]
public sealed class PipelineBlockTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task CreateBlock_LinkedBetweenDataflowBlocks_PassesEveryItemInOrder()
    {
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(x => x + 1).Then(x => x * 2, threads: 3), new JobOptions { KeepOrder = true });
        var source = new BufferBlock<int>();
        var results = new List<int>();
        var sink = new ActionBlock<int>(results.Add);
        var link = new DataflowLinkOptions { PropagateCompletion = true };
        source.LinkTo(block, link);
        block.LinkTo(sink, link);

        for (var i = 0; i < 5000; i++)
        {
            await source.SendAsync(i);
        }

        source.Complete();
        await sink.Completion.WaitAsync(Bound);

        CollectionAssert.AreEqual(Enumerable.Range(0, 5000).Select(i => (i + 1) * 2).ToList(), results);
    }

    [TestMethod]
    public async Task CreateBlock_WorkerThrows_LogsAndDropsWithoutFaulting()
    {
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(x => x == 3 ? throw new InvalidOperationException("boom") : x));
        var results = new List<int>();
        var sink = new ActionBlock<int>(results.Add);
        block.LinkTo(sink, new DataflowLinkOptions { PropagateCompletion = true });

        for (var i = 0; i < 6; i++)
        {
            Assert.IsTrue(await block.SendAsync(i));
        }

        block.Complete();
        await sink.Completion.WaitAsync(Bound);

        Assert.IsTrue(block.Completion.IsCompletedSuccessfully);
        CollectionAssert.AreEquivalent(new[] { 0, 1, 2, 4, 5 }, results);
    }

    [TestMethod]
    public async Task CreateBlock_Fault_FaultsCompletionAndStopsWorkers()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(async (int x, CancellationToken ct) =>
        {
            await gate.Task.WaitAsync(ct);
            return x;
        }));
        await block.SendAsync(1);

        block.Fault(new InvalidOperationException("stop"));

        var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => block.Completion.WaitAsync(Bound));
        Assert.AreEqual("stop", error.Message);
        gate.TrySetResult();
    }

    [TestMethod]
    public async Task CreateBlock_OutputNotConsumed_PostponesOffersAtCapacity()
    {
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(x => x), new JobOptions { QueueSize = 4 });

        // Output buffer, engine queues and input buffer are all bounded: eventually an offer is declined by Post.
        var accepted = 0;
        for (var i = 0; i < 1000 && block.Post(i); i++)
        {
            accepted++;
        }

        Assert.IsLessThan(1000, accepted);
        block.Complete();
        var received = 0;
        while (await block.OutputAvailableAsync().WaitAsync(Bound))
        {
            await block.ReceiveAsync(Bound);
            received++;
        }

        Assert.AreEqual(accepted, received);
    }
}
