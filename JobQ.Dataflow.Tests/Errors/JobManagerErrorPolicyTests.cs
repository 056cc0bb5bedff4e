using System.Collections.Concurrent;

namespace JobQ.Dataflow.Tests.Errors;

[TestClass]
public sealed class JobManagerErrorPolicyTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task JobManager_HandlerPolicy_ReceivesEachFailureAndJoinSucceeds()
    {
        var failures = new ConcurrentQueue<JobFailure>();
        var passed = new ConcurrentQueue<int>();
        var workers = Workers.Of<int>()
            .Then(x => x % 4 == 0 ? throw new InvalidOperationException("fourth") : x, threads: 2, name: "check")
            .Then((int x) => passed.Enqueue(x));
        await using var manager = JobManager.Create(workers, new JobOptions { ErrorPolicy = ErrorPolicy.Handle(failures.Enqueue) });

        for (var i = 0; i < 40; i++)
        {
            await manager.PutAsync(i).AsTask().WaitAsync(Bound);
        }

        Assert.IsTrue(await manager.JoinAsync().WaitAsync(Bound));
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 10).Select(i => (object)(4 * i)).ToList(), failures.Select(f => f.Item).ToList());
        Assert.IsTrue(failures.All(f => f.Stage == "check" && f.StageIndex == 0));
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 40).Where(x => x % 4 != 0).ToList(), passed.ToList());
        Assert.AreEqual(10L, manager.Stat().Stages[0].Failed);
    }

    [TestMethod]
    public async Task JobManager_FailFast_JoinRethrowsTheWorkersExceptionAndPutIsRefused()
    {
        var boom = new InvalidOperationException("boom");
        var workers = Workers.Of<int>().Then(x => x == 3 ? throw boom : x);
        await using var manager = JobManager.Create(workers, new JobOptions { ErrorPolicy = ErrorPolicy.FailFast });

        for (var i = 0; i < 4; i++)
        {
            await manager.PutAsync(i).AsTask().WaitAsync(Bound);
        }

        Assert.IsTrue(SpinWait.SpinUntil(() => manager.Stat().Stages[0].Failed == 1, Bound));
        var refused = Assert.ThrowsExactly<InvalidOperationException>(() => manager.Put(4), "A stopped manager takes no more items.");
        StringAssert.Contains(refused.Message, "it faulted: InvalidOperationException: boom", "the refusal names what stopped the manager");
        var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => manager.JoinAsync().WaitAsync(Bound));
        Assert.AreSame(boom, error);
    }

    [TestMethod]
    public async Task Put_AfterAFailFastFaultWhoseMessageThrows_RefusedWithInvalidOperationCarryingTheFault()
    {
        var boom = new UnreadableException();
        var workers = Workers.Of<int>().Then(x => x == 0 ? throw boom : x);
        await using var manager = JobManager.Create(workers, new JobOptions { ErrorPolicy = ErrorPolicy.FailFast, Logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance });

        await manager.PutAsync(0).AsTask().WaitAsync(Bound);
        Assert.IsTrue(SpinWait.SpinUntil(() => manager.Stat().Stages[0].Failed == 1, Bound));

        var refused = Assert.ThrowsExactly<InvalidOperationException>(() => manager.Put(1));
        StringAssert.Contains(refused.Message, nameof(UnreadableException), "the refusal names the fault's type even when its text cannot be read");
        Assert.AreSame(boom, refused.InnerException);
    }

    /// <summary>An exception whose message cannot be read.</summary>
    private sealed class UnreadableException : Exception
    {
        public override string Message => throw new NotSupportedException("no message");
    }
}
