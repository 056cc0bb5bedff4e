using System.Collections.Concurrent;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Management;

[TestClass]
public sealed class JobManagerPutTests
{
    [TestMethod]
    public void Put_JobqEchoExample_EchoesEveryItemAndJoinReturnsTrue()
    {
        // jobq: jm = JobManager([_echo]); for i in range(3): jm.put(i); jm.join()
        var echo = new WorkerSpy();
        using var manager = JobManager.Create(Workers.Of<int>().Then(echo.Work));
        for (var i = 0; i < 3; i++)
        {
            manager.Put(i);
        }

        Assert.IsTrue(manager.Join(Bounded.Limit));
        CollectionAssert.AreEqual(new[] { 0, 1, 2 }, echo.Seen.ToArray());
        var stats = manager.Stat();
        Assert.AreEqual(3, stats.In);
        Assert.AreEqual(3, stats.Out);
        Assert.AreEqual(0, stats.Doing);
    }

    [TestMethod]
    public void Put_ManyItemsThroughTwoStages_EveryItemReachesTheLastStageOnce()
    {
        var last = new ConcurrentDictionary<int, int>();
        using var manager = JobManager.Create(
            Workers.Of<int>().Then(static (int i) => i * 2, threads: 3).Then((int i) => { last.AddOrUpdate(i, 1, (_, n) => n + 1); }),
            queueSize: 8);
        for (var i = 0; i < 1_000; i++)
        {
            manager.Put(i);
        }

        Assert.IsTrue(manager.Join(Bounded.Limit));
        Assert.HasCount(1_000, last);
        Assert.IsTrue(Enumerable.Range(0, 1_000).All(i => last.TryGetValue(i * 2, out var n) && n == 1));
    }

    [TestMethod]
    public void Put_FirstQueueFull_BlocksUntilTheWorkerTakesAnItem()
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work), queueSize: 1);
        try
        {
            manager.Put(0);
            Bounded.Until(() => spy.Current == 1, "the worker holds item 0");
            manager.Put(1); // fills the queue of one

            var blocked = Task.Run(() => manager.Put(2));

            Assert.IsFalse(blocked.Wait(Bounded.Watch), "Put returned while the first queue was full.");
            Assert.AreEqual(1, manager.Stat().Stages[0].Input.Size);
            Assert.AreEqual(1, spy.Entered);

            gate.Open();
            Assert.IsTrue(blocked.Wait(Bounded.Limit), "Put did not return once the queue had room.");
            Assert.IsTrue(manager.Join(Bounded.Limit));
            CollectionAssert.AreEqual(new[] { 0, 1, 2 }, spy.Seen.ToArray());
        }
        finally
        {
            gate.Open();
        }
    }

    /// <summary>
    /// Without keepOrder outputs leave in completion order; a stage with one worker completes its items in the order
    /// they came, so they must reach the next stage in that order, as in jobq, although a JobManager's stages can grow.
    /// </summary>
    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void Put_OneWorkerPerStageWithoutKeepOrder_OutputsInPutOrder(bool async)
    {
        const int Items = 3_000;
        var seen = new List<int>();
        var first = Workers.Of<int>();
        var workers = async
            ? first.Then(async (int x, CancellationToken _) =>
            {
                if (x % 3 == 0)
                {
                    await Task.Yield();
                }

                return x;
            })
            : first.Then(x => x);
        using var manager = JobManager.Create(workers.Then(seen.Add));
        for (var i = 0; i < Items; i++)
        {
            manager.Put(i);
        }

        Assert.IsTrue(manager.Join(Bounded.Limit));
        CollectionAssert.AreEqual(Enumerable.Range(0, Items).ToArray(), seen);
    }

    [TestMethod]
    public void Put_WhileTheWorkerIsBusy_ItemIsCountedQueuedAndReachesTheWorkerWithoutJoin()
    {
        // Puts are moved into the first queue a run at a time; an item put while the only worker is busy must still
        // show in the queue's size and reach the worker as soon as it is free, with no later put or Join to push it.
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work));
        try
        {
            manager.Put(0);
            Bounded.Until(() => spy.Current == 1, "the worker holds item 0");
            manager.Put(1);
            manager.Put(2);

            Assert.AreEqual(2, manager.Stat().Stages[0].Input.Size);

            gate.Open();
            Bounded.Until(() => spy.Completed == 3, "items 1 and 2 processed without Join");
            CollectionAssert.AreEqual(new[] { 0, 1, 2 }, spy.Seen.ToArray());
            Assert.AreEqual(0, manager.Stat().Stages[0].Input.Size);
            Assert.IsTrue(manager.Join(Bounded.Limit));
        }
        finally
        {
            gate.Open();
        }
    }

    [TestMethod]
    public async Task PutAsync_AfterPutsFromTheSameThread_KeepsTheirOrder()
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        await using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work));
        try
        {
            manager.Put(0);
            Bounded.Until(() => spy.Current == 1, "the worker holds item 0");
            manager.Put(1);
            await manager.PutAsync(2).AsTask().WaitAsync(Bounded.Limit);
            manager.Put(3);
            await manager.PutAsync(4).AsTask().WaitAsync(Bounded.Limit);

            gate.Open();
            Assert.IsTrue(await manager.JoinAsync().WaitAsync(Bounded.Limit));
            CollectionAssert.AreEqual(new[] { 0, 1, 2, 3, 4 }, spy.Seen.ToArray());
        }
        finally
        {
            gate.Open();
        }
    }

    [TestMethod]
    public async Task Put_ManyThreadsWhileWorkersIdleAndBusy_EveryItemProcessedOnceWithoutJoin()
    {
        // Producers that pause between puts leave items waiting to be moved into the queue; idle workers must fetch
        // them. Every item must arrive before Join is called.
        const int Producers = 4, PerProducer = 2_000;
        var seen = new ConcurrentDictionary<int, int>();
        using var manager = JobManager.Create(
            Workers.Of<int>().Then((int i) => { seen.AddOrUpdate(i, 1, (_, n) => n + 1); }, threads: 2),
            queueSize: 64);
        var producers = Enumerable.Range(0, Producers).Select(p => Task.Run(() =>
        {
            for (var i = 0; i < PerProducer; i++)
            {
                manager.Put((p * PerProducer) + i);
                if (i % 97 == 0)
                {
                    Thread.Yield();
                }
            }
        })).ToArray();

        await Task.WhenAll(producers).WaitAsync(Bounded.Limit);
        Bounded.Until(() => seen.Count == Producers * PerProducer, "every item processed before Join");
        Assert.IsTrue(manager.Join(Bounded.Limit));
        Assert.IsTrue(seen.Values.All(n => n == 1), "an item was processed twice");
    }

    [TestMethod]
    public async Task PutAsync_FirstQueueFull_AwaitsRoomWithoutBlocking()
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        await using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work), queueSize: 1);
        try
        {
            await manager.PutAsync(0);
            Bounded.Until(() => spy.Current == 1, "the worker holds item 0");
            await manager.PutAsync(1);

            var pending = manager.PutAsync(2).AsTask();

            Assert.IsFalse(pending.IsCompleted, "PutAsync completed while the first queue was full.");
            await Task.WhenAny(pending, Task.Delay(Bounded.Watch));
            Assert.IsFalse(pending.IsCompleted, "PutAsync completed while the first queue was full.");

            gate.Open();
            await pending.WaitAsync(Bounded.Limit);
            Assert.IsTrue(await manager.JoinAsync().WaitAsync(Bounded.Limit));
            CollectionAssert.AreEqual(new[] { 0, 1, 2 }, spy.Seen.ToArray());
        }
        finally
        {
            gate.Open();
        }
    }

    [TestMethod]
    public async Task PutAsync_CancelledWhileWaitingForRoom_ThrowsPromptlyAndEnqueuesNothing()
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        await using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work), queueSize: 1);
        try
        {
            await manager.PutAsync(0);
            Bounded.Until(() => spy.Current == 1, "the worker holds item 0");
            await manager.PutAsync(1);

            using var cancel = new CancellationTokenSource();
            var pending = manager.PutAsync(99, cancel.Token).AsTask();
            Assert.IsFalse(pending.IsCompleted);

            await cancel.CancelAsync();

            // Promptly: while the queue is still full and the worker still held.
            await Assert.ThrowsAsync<OperationCanceledException>(() => pending.WaitAsync(Bounded.Limit));
            Assert.AreEqual(1, manager.Stat().Stages[0].Input.Size);

            // The room the cancelled put gave up is usable by the next put.
            gate.Release(1);
            await manager.PutAsync(2).AsTask().WaitAsync(Bounded.Limit);

            gate.Open();
            Assert.IsTrue(await manager.JoinAsync().WaitAsync(Bounded.Limit));
            CollectionAssert.AreEqual(new[] { 0, 1, 2 }, spy.Seen.ToArray(), "The cancelled item must never reach the worker.");
        }
        finally
        {
            gate.Open();
        }
    }

    [TestMethod]
    public async Task PutAsync_TokenAlreadyCancelled_ThrowsAndEnqueuesNothing()
    {
        var spy = new WorkerSpy();
        await using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work));
        using var cancel = new CancellationTokenSource();
        await cancel.CancelAsync();

        await Assert.ThrowsAsync<OperationCanceledException>(() => manager.PutAsync(99, cancel.Token).AsTask());
        await manager.PutAsync(1);

        Assert.IsTrue(await manager.JoinAsync().WaitAsync(Bounded.Limit));
        CollectionAssert.AreEqual(new[] { 1 }, spy.Seen.ToArray());
    }

    [TestMethod]
    public async Task PutAsync_AsyncWorkers_EveryItemProcessedOnce()
    {
        var spy = new WorkerSpy();
        await using var manager = JobManager.Create(Workers.Of<int>().Then(spy.WorkAsync, threads: 4), queueSize: 4);
        for (var i = 0; i < 500; i++)
        {
            await manager.PutAsync(i);
        }

        Assert.IsTrue(await manager.JoinAsync().WaitAsync(Bounded.Limit));
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 500).ToArray(), spy.Seen.ToArray());
    }

    [TestMethod]
    public void Put_BlockedOnFullQueueWhenJoinBegins_CompletesAndTheItemIsProcessed()
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work), queueSize: 1);
        try
        {
            manager.Put(0);
            Bounded.Until(() => spy.Current == 1, "the worker holds item 0");
            manager.Put(1);
            var blocked = Task.Run(() => manager.Put(2));
            Assert.IsFalse(blocked.Wait(Bounded.Watch), "Put returned while the first queue was full.");

            var join = manager.JoinAsync();
            Assert.IsFalse(join.IsCompleted);

            gate.Open();
            Assert.IsTrue(blocked.Wait(Bounded.Limit), "A put that began before Join must not be refused halfway.");
            Assert.IsTrue(join.Wait(Bounded.Limit));
            Assert.IsTrue(join.Result);
            CollectionAssert.AreEqual(new[] { 0, 1, 2 }, spy.Seen.ToArray());
        }
        finally
        {
            gate.Open();
        }
    }

    [TestMethod]
    public void Put_InterruptedWhileBlockedOnFullQueue_ThrowsAndJoinStillEnds()
    {
        // A put that leaves by an exception must give up its place among the puts Join waits for, as a cancelled
        // PutAsync does; otherwise Join, even with a timeout, would wait for it forever.
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work), queueSize: 1);
        try
        {
            manager.Put(0);
            Bounded.Until(() => spy.Current == 1, "the worker holds item 0");
            manager.Put(1);
            Exception? thrown = null;
            var putter = new Thread(() =>
            {
                try
                {
                    manager.Put(2);
                }
                catch (ThreadInterruptedException exception)
                {
                    thrown = exception;
                }
            });
            putter.Start();
            Bounded.Until(() => (putter.ThreadState & ThreadState.WaitSleepJoin) != 0, "the put to block on the full queue");

            putter.Interrupt();
            Assert.IsTrue(putter.Join(Bounded.Limit));
            gate.Open();

            Assert.IsInstanceOfType<ThreadInterruptedException>(thrown);
            Assert.IsTrue(manager.Join(Bounded.Limit));
            CollectionAssert.AreEqual(new[] { 0, 1 }, spy.Seen.ToArray());
        }
        finally
        {
            gate.Open();
        }
    }

    [TestMethod]
    public async Task PutAsync_WaitingForRoomWhenJoinBegins_CompletesAndTheItemIsProcessed()
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        await using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work), queueSize: 1);
        try
        {
            manager.Put(0);
            Bounded.Until(() => spy.Current == 1, "the worker holds item 0");
            manager.Put(1);

            // The queue is full, so this put is waiting for room when it returns its task.
            var waiting = manager.PutAsync(2).AsTask();
            Assert.IsFalse(waiting.IsCompleted, "PutAsync completed while the first queue was full.");
            var join = manager.JoinAsync();
            Assert.IsFalse(join.IsCompleted);

            gate.Open();
            await waiting.WaitAsync(Bounded.Limit);
            Assert.IsTrue(await join.WaitAsync(Bounded.Limit));
            CollectionAssert.AreEqual(new[] { 0, 1, 2 }, spy.Seen.ToArray());
        }
        finally
        {
            gate.Open();
        }
    }

    [TestMethod]
    public async Task Put_BlockedOnFullQueueWhenJoinTimesOut_ThrowsInvalidOperationAndQueuesNothing()
    {
        var time = new ObservableTimeProvider();
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work), new JobOptions { QueueSize = 1, TimeProvider = time });
        try
        {
            manager.Put(0);
            Bounded.Until(() => spy.Current == 1, "the worker holds item 0");
            manager.Put(1);
            var blocked = Task.Run(() => manager.Put(2));
            var blockedAsync = manager.PutAsync(3).AsTask();
            Assert.IsFalse(blocked.Wait(Bounded.Watch), "Put returned while the first queue was full.");

            var join = manager.JoinAsync(TimeSpan.FromSeconds(1));
            await time.TimerCreated.WaitAsync(Bounded.Limit);
            time.Advance(TimeSpan.FromSeconds(1));

            await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => blocked.WaitAsync(Bounded.Limit));
            await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => blockedAsync.WaitAsync(Bounded.Limit));
            Assert.IsFalse(await join.WaitAsync(Bounded.Limit));
        }
        finally
        {
            gate.Open();
        }

        Bounded.Until(() => spy.Completed == 1, "the held call finished");
        CollectionAssert.AreEqual(new[] { 0 }, spy.Seen.ToArray());
    }
}
