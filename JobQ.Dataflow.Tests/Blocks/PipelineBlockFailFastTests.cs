using System.Threading.Tasks.Dataflow;

namespace JobQ.Dataflow.Tests.Blocks;

/// <summary>A pipeline block that an <see cref="ErrorPolicy.FailFast"/> failure faulted must decline further offers, as a faulted Dataflow block does.</summary>
[TestClass]
public sealed class PipelineBlockFailFastTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task CreateBlock_FailFastWorkerThrows_FaultsCompletionWithTheException()
    {
        var block = JobQueue.CreateBlock(
            Workers.Of<int>().Then(x => x == 1 ? throw new InvalidOperationException("boom") : x),
            new JobOptions { ErrorPolicy = ErrorPolicy.FailFast });

        Assert.IsTrue(await block.SendAsync(1).WaitAsync(Bound));

        var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => block.Completion.WaitAsync(Bound));
        Assert.AreEqual("boom", error.Message);
    }

    [TestMethod]
    public async Task CreateBlock_FaultedByFailFast_DeclinesLaterOffers()
    {
        var block = JobQueue.CreateBlock(
            Workers.Of<int>().Then(x => x == 1 ? throw new InvalidOperationException("boom") : x),
            new JobOptions { ErrorPolicy = ErrorPolicy.FailFast, QueueSize = 4 });
        Assert.IsTrue(await block.SendAsync(1).WaitAsync(Bound));
        await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => block.Completion.WaitAsync(Bound));

        // A faulted Dataflow block declines for good: Post returns false and SendAsync completes with false.
        // Accepting here would lose the item silently and, once the buffer is full, leave SendAsync waiting forever.
        Assert.IsFalse(block.Post(2), "a faulted block accepted an item");
        var sent = block.SendAsync(3);
        Assert.AreSame(sent, await Task.WhenAny(sent, Task.Delay(Bound)), "SendAsync to a faulted block did not complete");
        Assert.IsFalse(await sent);
    }
}
