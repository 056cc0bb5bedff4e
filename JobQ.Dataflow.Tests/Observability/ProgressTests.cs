using JobQ.Dataflow.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace JobQ.Dataflow.Tests.Observability;

[TestClass]
public sealed class ProgressTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task RunAsync_IntervalPasses_DeliversASnapshotEachInterval()
    {
        var time = new FakeTimeProvider();
        var progress = new RecordingProgress<JobStats>();
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var workers = Workers.Of<int>().Then(
            async (int x, CancellationToken ct) =>
            {
                if (x == 4)
                {
                    held.TrySetResult();
                    await release.Task.WaitAsync(ct);
                }

                return x;
            },
            name: "slow");
        var options = new JobOptions { Progress = progress, ProgressInterval = TimeSpan.FromSeconds(2), TimeProvider = time };

        try
        {
            var run = JobQueue.RunAsync(Enumerable.Range(0, 5), workers, options);
            await held.Task.WaitAsync(Bound);
            Assert.IsEmpty(progress.Reports, "No snapshot before the first interval.");

            time.Advance(TimeSpan.FromSeconds(1));
            Assert.IsEmpty(progress.Reports);

            time.Advance(TimeSpan.FromSeconds(1));
            var first = progress.Reports.Single();
            Assert.AreEqual("slow", first.Stages[0].Name);
            Assert.AreEqual(5L, first.Stages[0].In);
            Assert.AreEqual(4L, first.Stages[0].Out);
            Assert.AreEqual(1L, first.Doing);

            time.Advance(TimeSpan.FromSeconds(2));
            Assert.HasCount(2, progress.Reports);

            release.TrySetResult();
            var result = await run.WaitAsync(Bound);
            Assert.IsTrue(result.Completed);
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [TestMethod]
    public async Task RunAsync_RunEnds_DeliversAFinalSnapshotWithTheFinalCounts()
    {
        var time = new FakeTimeProvider();
        var final = new TaskCompletionSource<JobStats>(TaskCreationOptions.RunContinuationsAsynchronously);
        var progress = new RecordingProgress<JobStats>(stats => final.TrySetResult(stats));
        static WorkerResult<int> DropOdd(int x) => x % 2 == 1 ? JobQueue.EmptyRst : x;
        var workers = Workers.Of<int>()
            .Then(x => x % 10 == 0 ? throw new InvalidOperationException("tenth") : x, threads: 2)
            .Then(DropOdd);

        // The clock never moves, so the only snapshot is the one sent when the run ends.
        var result = await JobQueue.RunAsync(Enumerable.Range(0, 100), workers, new JobOptions { Progress = progress, TimeProvider = time }).WaitAsync(Bound);
        var stats = await final.Task.WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        Assert.HasCount(1, progress.Reports);
        Assert.AreEqual(100L, stats.Stages[0].Out);
        Assert.AreEqual(10L, stats.Stages[0].Failed);
        Assert.AreEqual(90L, stats.Stages[1].In);
        Assert.AreEqual(50L, stats.Stages[1].Dropped, "The odd items, none of them a multiple of ten.");
        Assert.AreEqual(0L, stats.Doing);
    }

    [TestMethod]
    public async Task RunAsync_Completes_FinalSnapshotAlreadyDelivered()
    {
        var time = new FakeTimeProvider();

        // A receiver that takes a while (workload, not synchronisation) makes the ordering visible.
        var progress = new RecordingProgress<JobStats>(_ => Thread.Sleep(200));

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 10), Workers.Of<int>().Then(x => x), new JobOptions { Progress = progress, TimeProvider = time }).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        var last = progress.Reports.LastOrDefault();
        Assert.IsNotNull(last, "The final snapshot should be delivered before the run returns, so that a progress bar shows 100% when the caller resumes.");
        Assert.AreEqual(10L, last.Stages[0].Out);
    }

    [TestMethod]
    public async Task RunAsync_ReceiverThrows_LoggedOnceAndRunGoesOn()
    {
        var time = new FakeTimeProvider();
        var logger = LoggerMock.Create();
        var calls = 0;
        var progress = new RecordingProgress<JobStats>(_ =>
        {
            Interlocked.Increment(ref calls);
            throw new FormatException("progress bar broke");
        });
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var workers = Workers.Of<int>().Then(async (int x, CancellationToken ct) =>
        {
            if (x == 99)
            {
                held.TrySetResult();
                await release.Task.WaitAsync(ct);
            }

            return x;
        });
        var options = new JobOptions { Progress = progress, TimeProvider = time, Logger = logger.Object };

        try
        {
            var run = JobQueue.RunAsync(Enumerable.Range(0, 100), workers, options);
            await held.Task.WaitAsync(Bound);
            time.Advance(TimeSpan.FromSeconds(1));
            time.Advance(TimeSpan.FromSeconds(1));
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.AreEqual(3, Volatile.Read(ref calls), "The receiver keeps getting snapshots after it threw.");
            release.TrySetResult();

            var result = await run.WaitAsync(Bound);

            Assert.IsTrue(result.Completed);
            Assert.AreEqual(100L, result.Stats.Stages[0].Out);
            Assert.AreEqual(0L, result.Stats.Stages[0].Failed);
            logger.VerifyLogged<FormatException>(LogLevel.Warning, Times.Once());
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [TestMethod]
    public void RunAsync_ProgressIntervalNotPositive_ThrowsArgumentOutOfRange()
    {
        var options = new JobOptions { Progress = new RecordingProgress<JobStats>(), ProgressInterval = TimeSpan.Zero };

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => JobQueue.RunAsync(new[] { 1 }, Workers.Of<int>().Then(x => x), options));

        StringAssert.Contains(error.Message, "ProgressInterval");
    }

    [TestMethod]
    [DataRow(1L)]
    [DataRow(5_000L)]
    [DataRow(9_999L)]
    public void RunAsync_ProgressIntervalUnderAMillisecond_ThrowsOutOfRangeNamingTheMinimum(long ticks)
    {
        // System timers count whole milliseconds: a shorter period would become 0, a timer that fires once.
        var options = new JobOptions { Progress = new RecordingProgress<JobStats>(), ProgressInterval = TimeSpan.FromTicks(ticks) };

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => JobQueue.RunAsync(new[] { 1 }, Workers.Of<int>().Then(x => x), options));

        StringAssert.Contains(error.Message, "ProgressInterval must be at least 1 ms");
        Assert.AreEqual(TimeSpan.FromTicks(ticks), error.ActualValue);
    }

    [TestMethod]
    public async Task RunAsync_ProgressIntervalOneMillisecond_Accepted()
    {
        var progress = new RecordingProgress<JobStats>();
        var options = new JobOptions { Progress = progress, ProgressInterval = TimeSpan.FromMilliseconds(1) };

        var result = await JobQueue.RunAsync(new[] { 1 }, Workers.Of<int>().Then(x => x), options).Within();

        Assert.IsTrue(result.Completed);
    }
}
