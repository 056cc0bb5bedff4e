using System.Collections.Concurrent;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Errors;

/// <summary>
/// A worker that throws <see cref="OperationCanceledException"/> while the run is not being cancelled fails that
/// item only, as a TransformBlock drops it: the run goes on and finishes normally under every error policy,
/// FailFast included, and the failure is counted in the stage's <see cref="StageStats.Failed"/>.
/// </summary>
[TestClass]
public sealed class WorkerCancellationTests
{
    [TestMethod]
    public async Task Run_FailFastWorkerThrowsOperationCanceled_DropsThatItemOnlyAndFinishes()
    {
        var done = new ConcurrentQueue<int>();
        var workers = Workers.Of<int>()
            .Then(x => x == 3 ? throw new OperationCanceledException() : x)
            .Then(done.Enqueue);

        var result = await Bounded.RunBlocking(() => JobQueue.Run([1, 2, 3, 4, 5], workers, new JobOptions { ErrorPolicy = ErrorPolicy.FailFast }));

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(1L, result.Stats.Stages[0].Failed);
        CollectionAssert.AreEquivalent(new[] { 1, 2, 4, 5 }, done.ToList());
    }

    [TestMethod]
    public async Task RunAsync_FailFastAsyncWorkerThrowsOperationCanceled_DropsThatItemOnlyAndFinishes()
    {
        var done = new ConcurrentQueue<int>();
        var workers = Workers.Of<int>()
            .Then(async (int x, CancellationToken ct) =>
            {
                await Task.Yield();
                return x == 3 ? throw new OperationCanceledException() : x;
            })
            .Then(done.Enqueue);

        var result = await JobQueue.RunAsync([1, 2, 3, 4, 5], workers, new JobOptions { ErrorPolicy = ErrorPolicy.FailFast }).Within();

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(1L, result.Stats.Stages[0].Failed);
        CollectionAssert.AreEquivalent(new[] { 1, 2, 4, 5 }, done.ToList());
    }

    [TestMethod]
    public async Task Run_LogAndDropWorkerThrowsOperationCanceled_DropsThatItemOnlyAndFinishes()
    {
        var done = new ConcurrentQueue<int>();
        var workers = Workers.Of<int>()
            .Then(x => x == 3 ? throw new OperationCanceledException() : x)
            .Then(done.Enqueue);

        var result = await Bounded.RunBlocking(() => JobQueue.Run([1, 2, 3, 4, 5], workers, new JobOptions { ErrorPolicy = ErrorPolicy.LogAndDrop }));

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(1L, result.Stats.Stages[0].Failed);
        CollectionAssert.AreEquivalent(new[] { 1, 2, 4, 5 }, done.ToList());
    }
}
