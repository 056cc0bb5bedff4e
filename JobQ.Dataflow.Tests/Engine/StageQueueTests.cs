using JobQ.Dataflow.Internal;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Engine;

/// <summary>
/// <see cref="StageQueue"/>: jobq's queue of a stage, counted in items. It has room while fewer than its capacity
/// wait (outputs its producer's <see cref="OrderTracker"/> holds back do not count); a take that frees room releases
/// waiting producers and calls <see cref="StageQueue.RoomFreed"/>; a stop releases them with false.
/// </summary>
[TestClass]
public sealed class StageQueueTests
{
    [TestMethod]
    public void New_Empty_HasRoomAndCountsNothing()
    {
        var queue = new StageQueue(4, CancellationToken.None);

        Assert.AreEqual(4, queue.Capacity);
        Assert.AreEqual(0, queue.Count);
        Assert.AreEqual(0, queue.Waiting);
        Assert.IsTrue(queue.HasRoom);
    }

    [TestMethod]
    public void Add_UpToCapacity_HasRoomUntilFull()
    {
        var queue = new StageQueue(4, CancellationToken.None);

        queue.Add(3);
        var roomAtThree = queue.HasRoom;
        queue.Add(1);

        Assert.IsTrue(roomAtThree);
        Assert.IsFalse(queue.HasRoom);
        Assert.AreEqual(4, queue.Count);
        Assert.AreEqual(4, queue.Waiting);
    }

    [TestMethod]
    public void Add_RunLargerThanTheRoomLeft_OverfillsTheQueue()
    {
        var queue = new StageQueue(4, CancellationToken.None);
        queue.Add(3);

        queue.Add(5);

        Assert.AreEqual(8, queue.Count);
        Assert.IsFalse(queue.HasRoom);
    }

    [TestMethod]
    public void Take_Items_LeaveTheQueue()
    {
        var queue = new StageQueue(4, CancellationToken.None);
        queue.Add(6);

        queue.Take(2);
        var stillFull = !queue.HasRoom;
        queue.Take(1);

        Assert.IsTrue(stillFull, "4 waiting of 4");
        Assert.AreEqual(3, queue.Count);
        Assert.IsTrue(queue.HasRoom);
    }

    [TestMethod]
    public void Take_AnyTake_CallsRoomFreedEachTime()
    {
        // The producing stage's door weighs what it holds against the queue, so every take may let it admit a run.
        var queue = new StageQueue(4, CancellationToken.None);
        var freed = 0;
        queue.RoomFreed = () => freed++;
        queue.Add(7);

        queue.Take(3);
        queue.Take(2);
        queue.Take(1);

        Assert.AreEqual(3, freed);
    }

    [TestMethod]
    public async Task Take_OverfilledQueueStaysFull_WaitersReleasedOnlyWhenBelowCapacity()
    {
        var queue = new StageQueue(4, CancellationToken.None);
        queue.Add(7);
        var room = queue.WaitForRoomAsync();

        queue.Take(3);
        var afterFirst = room.IsCompleted;
        queue.Take(2);

        Assert.IsFalse(afterFirst, "4 of 4 waiting: still full");
        Assert.IsTrue(await room.Within());
    }

    /// <summary>
    /// A producer handing over the items it gathered counts them in before it stops counting them as gathered: a take
    /// in between sees the queue fuller than it is. A later take must still release the waiters, though it crosses no
    /// line from full to not full.
    /// </summary>
    [TestMethod]
    public async Task Take_AfterATakeThatSawGatheredItemsTwice_ReleasesTheWaiters()
    {
        var queue = new StageQueue(2, CancellationToken.None);
        queue.Add(1);
        queue.Pending = 1;
        var room = queue.WaitForRoomAsync();

        queue.Add(1);
        queue.Take(1);
        queue.Pending = 0;
        var beforeNextTake = room.IsCompleted;
        queue.Take(1);

        Assert.IsFalse(beforeNextTake);
        Assert.IsTrue(await room.Within());
    }

    [TestMethod]
    public void Take_FillsAndEmptiesAgain_RoomFreedEachTime()
    {
        var queue = new StageQueue(2, CancellationToken.None);
        var freed = 0;
        queue.RoomFreed = () => freed++;

        for (var i = 0; i < 3; i++)
        {
            queue.Add(2);
            queue.Take(2);
        }

        Assert.AreEqual(3, freed);
    }

    [TestMethod]
    public async Task WaitForRoomAsync_QueueHasRoom_CompletesTrueAtOnce()
    {
        var queue = new StageQueue(4, CancellationToken.None);
        queue.Add(3);

        var wait = queue.WaitForRoomAsync();

        Assert.IsTrue(wait.IsCompleted);
        Assert.IsTrue(await wait);
    }

    [TestMethod]
    public async Task WaitForRoomAsync_QueueFull_CompletesTrueWhenATakeFreesRoom()
    {
        var queue = new StageQueue(2, CancellationToken.None);
        queue.Add(2);

        var first = queue.WaitForRoomAsync();
        var second = queue.WaitForRoomAsync();
        var pendingWhileFull = !first.IsCompleted && !second.IsCompleted;
        queue.Take(1);

        Assert.IsTrue(pendingWhileFull);
        Assert.IsTrue(await first.Within());
        Assert.IsTrue(await second.Within());
    }

    [TestMethod]
    public async Task WaitForRoomAsync_PipelineStopped_CompletesFalseAtOnce()
    {
        using var stop = new CancellationTokenSource();
        var queue = new StageQueue(2, stop.Token);
        stop.Cancel();

        var wait = queue.WaitForRoomAsync();

        Assert.IsTrue(wait.IsCompleted);
        Assert.IsFalse(await wait);
    }

    /// <summary>
    /// The stop token alone releases producers waiting for room: a queue nobody cancels (a tail's), or a producer that
    /// began to wait just before the stop, never waits forever.
    /// </summary>
    [TestMethod]
    public async Task WaitForRoomAsync_WaitingWhenTheStopTokenIsCancelled_CompletesFalse()
    {
        using var stop = new CancellationTokenSource();
        var queue = new StageQueue(2, stop.Token);
        queue.Add(2);
        var wait = queue.WaitForRoomAsync();
        Assert.IsFalse(wait.IsCompleted);

        await stop.CancelAsync();

        Assert.IsFalse(await wait.Within());
    }

    [TestMethod]
    public void WaitForRoom_QueueHasRoom_ReturnsTrueAtOnce()
    {
        var queue = new StageQueue(4, CancellationToken.None);
        queue.Add(3);

        Assert.IsTrue(queue.WaitForRoom());
    }

    [TestMethod]
    public async Task WaitForRoom_QueueFull_ReturnsTrueOnceATakeFreesRoom()
    {
        var queue = new StageQueue(2, CancellationToken.None);
        queue.Add(2);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiters = Enumerable.Range(0, 2).Select(_ => Task.Factory.StartNew(
            () =>
            {
                started.TrySetResult();
                return queue.WaitForRoom();
            },
            TaskCreationOptions.LongRunning)).ToArray();
        await started.Task.Within();
        var pendingWhileFull = waiters.All(waiter => !waiter.IsCompleted);

        queue.Take(1);

        Assert.IsTrue(pendingWhileFull);
        Assert.IsTrue((await Task.WhenAll(waiters).Within()).All(room => room));
    }

    [TestMethod]
    public async Task WaitForRoom_BlockedAndTheStageTakesOneItemThenStops_GoesOnWithThatRoom()
    {
        // A stage that takes one item and then stops taking still finds its queue filled, as jobq's does.
        var queue = new StageQueue(16, CancellationToken.None);
        queue.Add(16);
        var seen = -1L;
        var waiter = Task.Factory.StartNew(
            () =>
            {
                var room = queue.WaitForRoom();
                Volatile.Write(ref seen, queue.Waiting);
                return room;
            },
            TaskCreationOptions.LongRunning);
        Bounded.Until(() => queue.Blocked == 1, "the producer is blocked");

        queue.Take(1);

        Assert.IsTrue(await waiter.Within());
        Assert.AreEqual(15L, Volatile.Read(ref seen));
    }

    [TestMethod]
    public async Task WaitForRoom_WaitingWhenTheStopTokenIsCancelled_ReturnsFalse()
    {
        using var stop = new CancellationTokenSource();
        var queue = new StageQueue(2, stop.Token);
        queue.Add(2);
        var waiter = Task.Factory.StartNew(queue.WaitForRoom, TaskCreationOptions.LongRunning);

        await stop.CancelAsync();

        Assert.IsFalse(await waiter.Within());
    }

    [TestMethod]
    public void WaitForRoom_PipelineStopped_ReturnsFalseAtOnce()
    {
        using var stop = new CancellationTokenSource();
        var queue = new StageQueue(2, stop.Token);
        stop.Cancel();

        Assert.IsFalse(queue.WaitForRoom());
    }

    [TestMethod]
    public async Task Cancel_ProducersWaitingForRoom_CompleteFalse()
    {
        using var stop = new CancellationTokenSource();
        var queue = new StageQueue(2, stop.Token);
        queue.Add(2);
        var wait = queue.WaitForRoomAsync();

        stop.Cancel();
        queue.Cancel();

        Assert.IsFalse(await wait.Within());
    }

    [TestMethod]
    public async Task Take_RoomFreedAfterTheStop_WaitingProducersCompleteFalse()
    {
        using var stop = new CancellationTokenSource();
        var queue = new StageQueue(2, stop.Token);
        queue.Add(2);
        var wait = queue.WaitForRoomAsync();

        stop.Cancel();
        queue.Take(2);

        Assert.IsFalse(await wait.Within());
    }

    [TestMethod]
    public async Task Cancel_NoStop_WaitingProducersCompleteFalseAndLaterOnesWaitAgain()
    {
        var queue = new StageQueue(1, CancellationToken.None);
        queue.Add(1);
        var released = queue.WaitForRoomAsync();

        queue.Cancel();
        var later = queue.WaitForRoomAsync();

        Assert.IsFalse(await released.Within());
        Assert.IsFalse(later.IsCompleted, "the queue is still full");
        queue.Take(1);
        Assert.IsTrue(await later.Within());
    }

    [TestMethod]
    public async Task Take_ProducerWaiting_ItsContinuationDoesNotRunOnTheTakingThread()
    {
        var queue = new StageQueue(1, CancellationToken.None);
        queue.Add(1);
        var continuation = queue.WaitForRoomAsync().ContinueWith(
            _ => Environment.CurrentManagedThreadId,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);

        // Taken on a thread of its own, which never runs pool work: only an inline continuation could run there.
        var taker = new Thread(() => queue.Take(1));
        taker.Start();

        Assert.AreNotEqual(taker.ManagedThreadId, await continuation.Within());
        Assert.IsTrue(taker.Join(Bounded.Limit));
    }

    [TestMethod]
    public void HeldBy_OutputsParked_DoNotTakeRoom()
    {
        var queue = new StageQueue(4, CancellationToken.None);
        var tracker = new OrderTracker();
        queue.HeldBy = tracker;

        // The producer passed on 4 outputs, 3 of which its reordering holds back (run 1 ended before run 0).
        queue.Add(1);
        queue.Add(3);
        tracker.Ended(1, 3);

        Assert.AreEqual(4, queue.Count);
        Assert.AreEqual(1, queue.Waiting);
        Assert.IsTrue(queue.HasRoom);

        tracker.Ended(0, 1);

        Assert.AreEqual(4, queue.Waiting);
        Assert.IsFalse(queue.HasRoom);
    }

    [TestMethod]
    public void Take_WithParkedOutputs_RoomFreedWhenTheReleasedOnesDropBelowCapacity()
    {
        var queue = new StageQueue(2, CancellationToken.None);
        var tracker = new OrderTracker();
        queue.HeldBy = tracker;
        var freed = 0;
        queue.RoomFreed = () => freed++;
        queue.Add(5);
        tracker.Ended(1, 3);
        Assert.AreEqual(2, queue.Waiting);
        Assert.IsFalse(queue.HasRoom);

        queue.Take(1);

        Assert.AreEqual(1, queue.Waiting);
        Assert.IsTrue(queue.HasRoom);
        Assert.AreEqual(1, freed);
    }

    [TestMethod]
    public void WaitForRoomAsync_ManyWaitsWhileFull_ShareOneTaskSoAnAbandonedWaitHoldsNothing()
    {
        // A put cancelled while the queue is full (PutAsync with a token) leaves its wait behind: were each wait a
        // task of its own, a stalled queue would keep one per abandoned put until room frees.
        var queue = new StageQueue(1, CancellationToken.None);
        queue.Add(1);

        var first = queue.WaitForRoomAsync();
        for (var i = 0; i < 1000; i++)
        {
            Assert.AreSame(first, queue.WaitForRoomAsync());
        }

        queue.Take(1);
        Assert.IsTrue(first.IsCompletedSuccessfully);
        Assert.IsTrue(first.Result);
        Assert.AreNotSame(first, queue.WaitForRoomAsync(), "a wait after the release is a new one");
    }
}
