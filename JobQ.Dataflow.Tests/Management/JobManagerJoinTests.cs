using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Management;

[TestClass]
public sealed class JobManagerJoinTests
{
    [TestMethod]
    public void Join_TimeoutNotReached_ReturnsTrueWhenEverythingIsDone()
    {
        var time = new ObservableTimeProvider();
        var spy = new WorkerSpy();
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work, threads: 2), new JobOptions { TimeProvider = time });
        for (var i = 0; i < 100; i++)
        {
            manager.Put(i);
        }

        // The fake clock never moves, so only finishing the work can end this Join.
        Assert.IsTrue(manager.Join(TimeSpan.FromSeconds(1)));
        Assert.AreEqual(100, spy.Completed);

        time.Advance(TimeSpan.FromSeconds(2));
        Assert.IsTrue(manager.Join(), "A later Join must report the same outcome.");
    }

    [TestMethod]
    public async Task Join_TimeoutPasses_ReturnsFalseWithoutWaitingForCallsInProgress()
    {
        var time = new ObservableTimeProvider();
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        var next = new WorkerSpy();
        using var manager = JobManager.Create(
            Workers.Of<int>().Then(spy.Work, threads: 2).Then(next.Work),
            new JobOptions { TimeProvider = time });
        try
        {
            for (var i = 0; i < 10; i++)
            {
                manager.Put(i);
            }

            Bounded.Until(() => spy.Current == 2, "both workers hold an item");
            var join = Task.Run(() => manager.Join(TimeSpan.FromSeconds(1)));
            await time.TimerCreated.WaitAsync(Bounded.Limit);

            time.Advance(TimeSpan.FromMilliseconds(999));
            Assert.IsFalse(join.IsCompleted, "Join returned before its timeout.");
            time.Advance(TimeSpan.FromMilliseconds(1));

            Assert.IsFalse(await join.WaitAsync(Bounded.Limit));
            Assert.AreEqual(2, spy.Current, "Join returned false while both calls were still held: it did not wait for them.");
        }
        finally
        {
            gate.Open();
        }

        // After the timeout each worker finishes its current item and takes no new one; nothing is passed on.
        Bounded.Until(() => spy.Completed == 2 && manager.Stat().Doing == 0, "the held calls finished");
        Bounded.Until(() => spy.Threads.All(LaneThreads.IsDone), "the worker threads were done (exited or idle)");
        Assert.AreEqual(2, spy.Entered);
        Assert.AreEqual(0, next.Entered);
        Assert.AreEqual(2, manager.Stat().Stages[0].Out);
    }

    [TestMethod]
    public async Task JoinAsync_TimeoutPasses_ReturnsFalse()
    {
        var time = new ObservableTimeProvider();
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        await using var manager = JobManager.Create(Workers.Of<int>().Then(spy.WorkAsync, threads: 3), new JobOptions { TimeProvider = time });
        try
        {
            for (var i = 0; i < 10; i++)
            {
                await manager.PutAsync(i);
            }

            Bounded.Until(() => spy.Current == 3, "three async calls hold an item");
            var join = manager.JoinAsync(TimeSpan.FromSeconds(5));
            await time.TimerCreated.WaitAsync(Bounded.Limit);
            time.Advance(TimeSpan.FromSeconds(5));

            Assert.IsFalse(await join.WaitAsync(Bounded.Limit));
        }
        finally
        {
            gate.Open();
        }

        Bounded.Until(() => spy.Completed == 3 && manager.Stat().Doing == 0, "the held calls finished");
        Assert.AreEqual(3, spy.Entered, "No call may start after the timeout.");
    }

    [TestMethod]
    public async Task JoinAsync_Cancelled_AbandonsTheWaitOnlyAndThePipelineGoesOn()
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        await using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work));
        try
        {
            for (var i = 0; i < 3; i++)
            {
                manager.Put(i);
            }

            using var cancel = new CancellationTokenSource();
            var join = manager.JoinAsync(cancellationToken: cancel.Token);
            await cancel.CancelAsync();
            await Assert.ThrowsAsync<OperationCanceledException>(() => join.WaitAsync(Bounded.Limit));
            Assert.ThrowsExactly<InvalidOperationException>(() => manager.Put(9), "the join began before the wait was abandoned");

            gate.Open();
            Assert.IsTrue(await manager.JoinAsync().WaitAsync(Bounded.Limit));
            CollectionAssert.AreEqual(new[] { 0, 1, 2 }, spy.Seen.ToArray());
        }
        finally
        {
            gate.Open();
        }
    }

    [TestMethod]
    public void Join_NothingPut_ReturnsTrue()
    {
        var spy = new WorkerSpy();
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work, threads: 2).Then(spy.WorkAsync, threads: 2));

        Assert.IsTrue(manager.JoinAsync().Wait(Bounded.Limit));
        Assert.AreEqual(0, spy.Entered);
    }

    /// <summary>
    /// A zero timeout asks whether the work is done: with nothing put, or with every item already processed, nothing is
    /// left for the timeout to cut short, whatever the timer and the completion of the blocks race to do.
    /// </summary>
    [TestMethod]
    [DataRow(0)]
    [DataRow(3)]
    public void Join_ZeroTimeoutAfterEveryItemWasProcessed_ReturnsTrue(int items)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            using var manager = JobManager.Create(Workers.Of<int>().Then(x => x + 1).Then(x => x * 2, threads: 2));
            for (var i = 0; i < items; i++)
            {
                manager.Put(i);
            }

            Bounded.Until(() => manager.Stat().Stages[1].Out == items, "every item to be processed");

            Assert.IsTrue(manager.Join(TimeSpan.Zero), $"attempt {attempt}");
            Assert.AreEqual(items, manager.Stat().Stages[1].Out);
        }
    }

    [TestMethod]
    public void Join_ZeroTimeoutWhileWorkersHeld_ReturnsFalsePromptly()
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work));
        try
        {
            manager.Put(0);
            manager.Put(1);
            Bounded.Until(() => spy.Current == 1, "the worker holds item 0");

            var join = Task.Run(() => manager.Join(TimeSpan.Zero));

            Assert.IsTrue(join.Wait(Bounded.Limit), "Join(TimeSpan.Zero) did not return while the worker was held.");
            Assert.IsFalse(join.Result);
        }
        finally
        {
            gate.Open();
        }

        Bounded.Until(() => spy.Completed == 1, "the held call finished");
        Assert.AreEqual(1, spy.Entered);
    }

    [TestMethod]
    public void Join_InfiniteTimeSpan_WaitsForEverything()
    {
        var spy = new WorkerSpy();
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work, threads: 2));
        for (var i = 0; i < 20; i++)
        {
            manager.Put(i);
        }

        Assert.IsTrue(manager.Join(Timeout.InfiniteTimeSpan));
        Assert.AreEqual(20, spy.Completed);
    }

    [TestMethod]
    public void Join_TimeSpanMaxValue_MeansNoTimeoutAndLaterJoinsReturnTheSameOutcome()
    {
        var spy = new WorkerSpy();
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work, threads: 2));
        for (var i = 0; i < 20; i++)
        {
            manager.Put(i);
        }

        var join = Task.Run(() => manager.Join(TimeSpan.MaxValue));

        Assert.IsTrue(join.Wait(Bounded.Limit));
        Assert.IsTrue(join.Result);
        Assert.AreEqual(20, spy.Completed);
        Assert.IsTrue(manager.Join());
        Assert.IsTrue(manager.Join(TimeSpan.MaxValue));
        Assert.IsTrue(manager.JoinAsync(TimeSpan.Zero).Wait(Bounded.Limit));
    }

    [TestMethod]
    public async Task JoinAsync_TimeoutAboveTimerLimit_MeansNoTimeout()
    {
        // 50 days: above the longest delay a timer can wait (about 49.7 days), so no timer is armed at all.
        var time = new ObservableTimeProvider();
        var spy = new WorkerSpy();
        await using var manager = JobManager.Create(Workers.Of<int>().Then(spy.WorkAsync), new JobOptions { TimeProvider = time });
        await manager.PutAsync(1);

        Assert.IsTrue(await manager.JoinAsync(TimeSpan.FromDays(50)).Within());
        Assert.IsFalse(time.TimerCreated.IsCompleted, "no timer may be armed for a timeout no timer can wait");
        Assert.AreEqual(1, spy.Completed);
    }

    [TestMethod]
    public async Task JoinAsync_TokenAlreadyCancelled_ChangesNothingLaterPutAndJoinWork()
    {
        var spy = new WorkerSpy();
        await using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work));
        manager.Put(0);
        using var cancel = new CancellationTokenSource();
        await cancel.CancelAsync();

        var cancelled = manager.JoinAsync(cancellationToken: cancel.Token);

        Assert.IsTrue(cancelled.IsCanceled, "a join with an already-cancelled token ends cancelled at once");
        await Assert.ThrowsAsync<OperationCanceledException>(() => cancelled);
        manager.Put(1);
        await manager.PutAsync(2);
        Assert.IsTrue(await manager.JoinAsync().Within());
        CollectionAssert.AreEqual(new[] { 0, 1, 2 }, spy.Seen.ToArray());
    }

    [TestMethod]
    public void Join_NegativeTimeout_ThrowsArgumentOutOfRangeAndDoesNotBeginJoin()
    {
        var spy = new WorkerSpy();
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work));

        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => manager.Join(TimeSpan.FromSeconds(-1)));

        manager.Put(1);
        Assert.IsTrue(manager.Join(Bounded.Limit));
        Assert.AreEqual(1, spy.Completed);
    }
}
