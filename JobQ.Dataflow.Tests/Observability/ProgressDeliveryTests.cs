using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Observability;

/// <summary>When does the last <see cref="JobOptions.Progress"/> snapshot arrive relative to the end of the run?</summary>
[TestClass]
public sealed class ProgressDeliveryTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task RunAsync_WithProgress_ReturnsOnlyAfterTheFinalSnapshotWasDelivered()
    {
        var finalEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var release = new ManualResetEventSlim();
        var progress = new Receiver(stats =>
        {
            if (stats.Stages[^1].Out == 3)
            {
                // Hold the end-of-run snapshot in the receiver.
                finalEntered.TrySetResult();
                release.Wait(Bound);
            }
        });
        var options = new JobOptions { Progress = progress, ProgressInterval = TimeSpan.FromHours(1) };

        var run = JobQueue.RunAsync([1, 2, 3], Workers.Of<int>().Then(x => x), options);
        try
        {
            await finalEntered.Task.WaitAsync(Bound);

            // The final snapshot is still being delivered, so the run must not have returned; a progress bar drawn from
            // the snapshots would otherwise show less than the run did after the caller moved on.
            // (A bounded wait for something that must not happen; nothing is synchronised on it.)
            var returned = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(1))) == run;
            Assert.IsFalse(returned, "RunAsync returned while its final progress snapshot was still being delivered");
        }
        finally
        {
            release.Set();
            await run.WaitAsync(Bound);
        }
    }

    [TestMethod]
    public async Task JoinAsync_FinalSnapshotHeldInTheReceiverWhenTheTimeoutPasses_ReturnsTrueWithoutWaitingForIt()
    {
        // Every item went through, so the join succeeded; its timeout bounds the wait for the receiver (user code).
        var finalEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var release = new ManualResetEventSlim();
        var clock = new SignallingTimeProvider();
        var progress = new Receiver(stats =>
        {
            if (stats.Stages[^1].Out == 3)
            {
                finalEntered.TrySetResult();
                release.Wait(Bound);
            }
        });
        var options = new JobOptions { Progress = progress, ProgressInterval = TimeSpan.FromHours(1), TimeProvider = clock };
        using var manager = JobManager.Create(Workers.Of<int>().Then(x => x), options);
        try
        {
            clock.WaitTimerCreated("the progress timer");
            manager.Put(1);
            manager.Put(2);
            manager.Put(3);
            var join = manager.JoinAsync(TimeSpan.FromSeconds(1));
            clock.WaitTimerCreated("the join's timeout");
            await finalEntered.Task.WaitAsync(Bound);

            clock.Advance(TimeSpan.FromSeconds(1));

            Assert.IsTrue(await join.WaitAsync(Bound));
        }
        finally
        {
            release.Set();
        }
    }

    [TestMethod]
    public async Task RunAsync_FinalSnapshotHeldInTheReceiverWhenCancelled_ReturnsCompleted()
    {
        var finalEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var release = new ManualResetEventSlim();
        using var cancellation = new CancellationTokenSource();
        var progress = new Receiver(stats =>
        {
            if (stats.Stages[^1].Out == 3)
            {
                finalEntered.TrySetResult();
                release.Wait(Bound);
            }
        });
        var options = new JobOptions { Progress = progress, ProgressInterval = TimeSpan.FromHours(1) };

        var run = JobQueue.RunAsync([1, 2, 3], Workers.Of<int>().Then(x => x), options, cancellation.Token);
        try
        {
            await finalEntered.Task.WaitAsync(Bound);
            cancellation.Cancel();

            var result = await run.WaitAsync(Bound);

            Assert.IsTrue(result.Completed, "every item went through before the cancellation");
        }
        finally
        {
            release.Set();
        }
    }

    /// <summary>
    /// A receiver is user code: one that never returns holds its own report, not the run. A stopped run returns
    /// without a final snapshot while an earlier report is still in the receiver, and later ticks skip rather than pile
    /// up calls (each would hold a thread).
    /// </summary>
    [TestMethod]
    public async Task RunAsync_ReceiverBlocksEveryReportThenCancelled_ReturnsWithoutPilingUpReports()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var release = new ManualResetEventSlim();
        using var cancellation = new CancellationTokenSource();
        var inReceiver = 0;
        var mostAtOnce = 0;
        var progress = new Receiver(_ =>
        {
            var now = Interlocked.Increment(ref inReceiver);
            Atomic.Max(ref mostAtOnce, now);
            entered.TrySetResult();
            release.Wait(Bound);
            Interlocked.Decrement(ref inReceiver);
        });
        var input = Enumerable.Range(0, int.MaxValue);
        var options = new JobOptions { Progress = progress, ProgressInterval = TimeSpan.FromMilliseconds(1) };

        var run = JobQueue.RunAsync(input, Workers.Of<int>().Then(x => x), options, cancellation.Token);
        try
        {
            await entered.Task.WaitAsync(Bound);
            cancellation.Cancel();

            await Assert.ThrowsAsync<OperationCanceledException>(() => run.WaitAsync(Bound));
            Assert.AreEqual(1, Volatile.Read(ref mostAtOnce), "reports ran at once");
        }
        finally
        {
            release.Set();
        }
    }

    private sealed class Receiver(Action<JobStats> handler) : IProgress<JobStats>
    {
        public void Report(JobStats value) => handler(value);
    }
}
