using System.Collections.Concurrent;
using JobQ.Dataflow.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace JobQ.Dataflow.Tests.Errors;

[TestClass]
public sealed class CancellationReportingTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task RunAsync_CancelledWhileCallsInFlight_ReportsNoFailure()
    {
        using var cts = new CancellationTokenSource();
        var logger = LoggerMock.Create();
        var probe = new Probe();
        var handled = 0;
        var started = 0;
        var allStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var never = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var workers = Workers.Of<int>().Then(
            async (int x, CancellationToken ct) =>
            {
                if (Interlocked.Increment(ref started) == 3)
                {
                    allStarted.TrySetResult();
                }

                await never.Task.WaitAsync(ct);
                return x;
            },
            threads: 3);
        var options = new JobOptions { Probe = probe, Logger = logger.Object, ErrorPolicy = ErrorPolicy.Handle(_ => Interlocked.Increment(ref handled)) };

        try
        {
            var run = JobQueue.RunAsync(Enumerable.Range(0, 100), workers, options, cts.Token);
            await allStarted.Task.WaitAsync(Bound);
            cts.Cancel();

            await Assert.ThrowsAsync<OperationCanceledException>(() => run.WaitAsync(Bound));
            Assert.IsTrue(SpinWait.SpinUntil(() => JobQueue.Stat(probe).Doing == 0, Bound), "The cancelled calls never returned.");
            Assert.AreEqual(0L, JobQueue.Stat(probe).Stages[0].Failed);
            Assert.AreEqual(0, Volatile.Read(ref handled));
            logger.VerifyNotLogged(LogLevel.Error);
        }
        finally
        {
            never.TrySetResult();
        }
    }

    [TestMethod]
    public async Task RunAsync_TimeoutWhileCallsInFlight_ReportsNoFailure()
    {
        var time = new FakeTimeProvider();
        var probe = new Probe();
        var handled = 0;
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var never = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var workers = Workers.Of<int>().Then(
            async (int x, CancellationToken ct) =>
            {
                started.TrySetResult();
                await never.Task.WaitAsync(ct);
                return x;
            },
            threads: 2);
        var options = new JobOptions { Timeout = TimeSpan.FromSeconds(5), TimeProvider = time, Probe = probe, ErrorPolicy = ErrorPolicy.Handle(_ => Interlocked.Increment(ref handled)) };

        try
        {
            var run = JobQueue.RunAsync(Enumerable.Range(0, 10), workers, options);
            await started.Task.WaitAsync(Bound);
            time.Advance(TimeSpan.FromSeconds(5));

            var result = await run.WaitAsync(Bound);

            Assert.IsTrue(result.TimedOut);
            Assert.IsTrue(SpinWait.SpinUntil(() => JobQueue.Stat(probe).Doing == 0, Bound), "The cancelled calls never returned.");
            Assert.AreEqual(0L, JobQueue.Stat(probe).Stages[0].Failed);
            Assert.AreEqual(0, Volatile.Read(ref handled));
        }
        finally
        {
            never.TrySetResult();
        }
    }

    [TestMethod]
    public async Task RunAsync_AsyncWorkerCancelledByItsOwnToken_IsReportedAsFailure()
    {
        using var own = new CancellationTokenSource();
        await own.CancelAsync();
        var failures = new ConcurrentQueue<JobFailure>();
        var passed = new ConcurrentQueue<int>();
        var workers = Workers.Of<int>()
            .Then(
                async (int x, CancellationToken ct) =>
                {
                    if (x == 2)
                    {
                        await Task.Delay(Timeout.InfiniteTimeSpan, own.Token);
                    }

                    return x;
                },
                name: "fetch")
            .Then((int x) => passed.Enqueue(x));

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 5), workers, new JobOptions { ErrorPolicy = ErrorPolicy.Handle(failures.Enqueue) }).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(1L, result.Stats.Stages[0].Failed);
        var failure = failures.Single();
        Assert.AreEqual(2, failure.Item);
        var cancelled = Assert.IsInstanceOfType<OperationCanceledException>(failure.Exception);
        Assert.AreEqual(own.Token, cancelled.CancellationToken);
        CollectionAssert.AreEquivalent(new[] { 0, 1, 3, 4 }, passed.ToList());
    }

    [TestMethod]
    public void Run_SyncWorkerThrowsOperationCanceled_IsReportedAsFailure()
    {
        var logger = LoggerMock.Create();
        var mine = new OperationCanceledException("my own reason");
        var failures = new ConcurrentQueue<JobFailure>();
        var workers = Workers.Of<int>().Then(x => x == 1 ? throw mine : x, name: "work");

        var result = JobQueue.Run(Enumerable.Range(0, 3), workers, new JobOptions { Logger = logger.Object, ErrorPolicy = ErrorPolicy.Handle(failures.Enqueue) });

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(1L, result.Stats.Stages[0].Failed);
        Assert.AreSame(mine, failures.Single().Exception);
        logger.VerifyLogged(LogLevel.Error, "'work'", mine, Moq.Times.Once());
    }
}
