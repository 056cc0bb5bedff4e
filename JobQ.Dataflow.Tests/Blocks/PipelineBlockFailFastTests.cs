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
    public async Task CreateBlock_TwoFailFastCallsFailTogether_CompletionKeepsBothAsABuiltInBlockDoes()
    {
        // Both calls meet before either throws, so both fail before the block has stopped.
        using var meet = new Barrier(2);
        var block = JobQueue.CreateBlock(
            Workers.Of<int>().Then(
                x =>
                {
                    meet.SignalAndWait(Bound);
                    return x == 1 ? throw new InvalidOperationException("one") : throw new FormatException("two");
                },
                threads: 2),
            new JobOptions { ErrorPolicy = ErrorPolicy.FailFast, Logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance });

        Assert.IsTrue(block.Post(1));
        Assert.IsTrue(block.Post(2));
        await Assert.ThrowsAsync<Exception>(() => block.Completion.WaitAsync(Bound));

        var errors = block.Completion.Exception!.InnerExceptions;
        CollectionAssert.AreEquivalent(new[] { "one", "two" }, errors.Select(e => e.Message).ToArray());
    }

    [TestMethod]
    public async Task CreateBlock_FaultedWhileACallIsHeldThenTheCallFails_CompletionKeepsTheFaultThenTheFailure()
    {
        using var held = new ManualResetEventSlim();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var block = JobQueue.CreateBlock(
            Workers.Of<int>().Then(
                x =>
                {
                    entered.TrySetResult();
                    held.Wait(Bound);
                    return x == 1 ? throw new FormatException("worker") : x;
                }),
            new JobOptions { ErrorPolicy = ErrorPolicy.FailFast, Logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance });
        Assert.IsTrue(block.Post(1));
        await entered.Task.WaitAsync(Bound);

        block.Fault(new InvalidCastException("outside"));
        held.Set();
        await Assert.ThrowsAsync<Exception>(() => block.Completion.WaitAsync(Bound));

        var errors = block.Completion.Exception!.InnerExceptions;
        CollectionAssert.AreEqual(new[] { "outside", "worker" }, errors.Select(e => e.Message).ToArray());
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
