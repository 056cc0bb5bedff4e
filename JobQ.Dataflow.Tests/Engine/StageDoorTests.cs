using System.Collections.Concurrent;
using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Internal;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Engine;

/// <summary>
/// <see cref="StageDoor{T}"/>: admits a run only while fewer than <see cref="StageDoor{T}.Concurrency"/> admitted runs
/// have not ended, the output queue has room and the stage's reordering holds back less than a queue's worth;
/// otherwise postpones the offer and consumes postponed offers, in order, when a run ends or room frees. Admitted runs
/// reach the block in admission order, stamped 0, 1, 2, ... Their items stay in the stage's queue until the stage
/// starts them (<see cref="StageQueue.Take"/>), which these tests' stand-in stages do by hand.
/// </summary>
[TestClass]
public sealed class StageDoorTests
{
    private static ItemRun<int> RunOf(params int[] items) => RunOf(0, items);

    private static ItemRun<int> RunOf(long sequence, params int[] items)
    {
        var array = ItemRun<int>.Rent(Math.Max(1, items.Length));
        items.CopyTo(array, 0);
        return new ItemRun<int>(array, items.Length, sequence);
    }

    /// <summary>Takes every run the block holds now, in order.</summary>
    private static List<ItemRun<int>> Drain(BufferBlock<ItemRun<int>> block)
    {
        var runs = new List<ItemRun<int>>();
        while (block.TryReceive(out var run))
        {
            runs.Add(run);
        }

        return runs;
    }

    private static (StageQueue Queue, BufferBlock<ItemRun<int>> Block, StageDoor<int> Door, HandSource Source) Door(int concurrency, int capacity = 100)
    {
        var queue = new StageQueue(capacity, CancellationToken.None);
        var block = new BufferBlock<ItemRun<int>>();
        return (queue, block, new StageDoor<int>(block, queue, concurrency, CancellationToken.None), new HandSource());
    }

    /// <summary>Offers a run as a producer would: its items join the stage's queue first.</summary>
    private static DataflowMessageStatus Offer(HandSource source, StageDoor<int> door, StageQueue queue, params int[] items)
    {
        queue.Add(items.Length);
        return source.Offer(door, RunOf(items));
    }

    [TestMethod]
    public void Offer_StageCanStart_AdmitsAndStampsAndLeavesTheItemsQueuedUntilTheStageStartsThem()
    {
        var (queue, block, door, source) = Door(concurrency: 2);

        var status = Offer(source, door, queue, 1, 2, 3);

        Assert.AreEqual(DataflowMessageStatus.Accepted, status);
        Assert.AreEqual(1, source.ConsumeCalls);
        Assert.AreEqual(1, door.Running);
        Assert.AreEqual(3, queue.Count, "admitted items stay counted until the stage starts them");
        var runs = Drain(block);
        Assert.HasCount(1, runs);
        CollectionAssert.AreEqual(new[] { 1, 2, 3 }, runs[0].Span.ToArray());
        Assert.AreEqual(0L, runs[0].Sequence);
    }

    [TestMethod]
    public void Offer_ConcurrencyReached_PostponesAndLeavesTheRunWithItsSource()
    {
        var (queue, block, door, source) = Door(concurrency: 1);
        Offer(source, door, queue, 1);

        var status = Offer(source, door, queue, 2);

        Assert.AreEqual(DataflowMessageStatus.Postponed, status);
        Assert.AreEqual(1, source.ConsumeCalls, "the postponed run was not consumed");
        Assert.AreEqual(1, door.Running);
        Assert.AreEqual(2, queue.Count, "the admitted run, not started yet, and the postponed one");
        Assert.AreEqual(1, block.Count);
        Assert.IsFalse(door.IsHungry);
    }

    [TestMethod]
    public void RunEnded_RunPostponed_ConsumesItStampedNext()
    {
        var (queue, block, door, source) = Door(concurrency: 1);
        Offer(source, door, queue, 1);
        Offer(source, door, queue, 2);

        queue.Take(1);
        door.RunEnded(1);

        Assert.AreEqual(2, source.ConsumeCalls);
        Assert.AreEqual(1, door.Running);
        Assert.AreEqual(1, queue.Count, "the second run, admitted and not started");
        var runs = Drain(block);
        CollectionAssert.AreEqual(new[] { 1, 2 }, runs.Select(run => run.Items[0]).ToArray());
        CollectionAssert.AreEqual(new[] { 0L, 1L }, runs.Select(run => run.Sequence).ToArray());
    }

    [TestMethod]
    public void RunEnded_SeveralPostponed_ConsumesOnePerEndedRunInOfferOrder()
    {
        var (queue, block, door, source) = Door(concurrency: 1);
        Offer(source, door, queue, 0);
        for (var i = 1; i <= 4; i++)
        {
            Assert.AreEqual(DataflowMessageStatus.Postponed, Offer(source, door, queue, i));
        }

        var admittedAfterEachEnd = new List<int>();
        for (var i = 0; i < 4; i++)
        {
            door.RunEnded(1);
            admittedAfterEachEnd.Add(block.Count);
        }

        CollectionAssert.AreEqual(new[] { 2, 3, 4, 5 }, admittedAfterEachEnd);
        var runs = Drain(block);
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 3, 4 }, runs.Select(run => run.Items[0]).ToArray());
        CollectionAssert.AreEqual(new[] { 0L, 1L, 2L, 3L, 4L }, runs.Select(run => run.Sequence).ToArray());
    }

    [TestMethod]
    public void Offer_RunsCarryingOtherSequences_RestampedInAdmissionOrder()
    {
        var (queue, block, door, source) = Door(concurrency: 3);

        foreach (var sequence in new long[] { 42, 7, 0 })
        {
            queue.Add(1);
            source.Offer(door, RunOf(sequence, 9));
        }

        CollectionAssert.AreEqual(new[] { 0L, 1L, 2L }, Drain(block).Select(run => run.Sequence).ToArray());
    }

    [TestMethod]
    public void Offer_ConsumeToAcceptFalse_AdmitsTheOfferedValueWithoutConsuming()
    {
        var (queue, block, door, source) = Door(concurrency: 1);
        queue.Add(2);

        var status = source.Offer(door, RunOf(5, 6), consumeToAccept: false);

        Assert.AreEqual(DataflowMessageStatus.Accepted, status);
        Assert.AreEqual(0, source.ConsumeCalls);
        CollectionAssert.AreEqual(new[] { 5, 6 }, Drain(block).Single().Span.ToArray());
    }

    [TestMethod]
    public void Post_WithoutSource_AcceptedWhileFreeDeclinedWhenBusy()
    {
        var (queue, block, door, _) = Door(concurrency: 1);
        queue.Add(2);

        var first = door.Post(RunOf(1));
        var second = door.Post(RunOf(2));

        Assert.IsTrue(first);
        Assert.IsFalse(second, "a run without a source cannot be postponed");
        Assert.AreEqual(1, block.Count);
        Assert.AreEqual(2, queue.Count, "the declined run's item stays with its producer, counted");
    }

    [TestMethod]
    public void Concurrency_Two_AdmitsTwoAndPostponesTheThird()
    {
        var (queue, block, door, source) = Door(concurrency: 2);

        var statuses = Enumerable.Range(0, 3).Select(i => Offer(source, door, queue, i)).ToArray();

        CollectionAssert.AreEqual(
            new[] { DataflowMessageStatus.Accepted, DataflowMessageStatus.Accepted, DataflowMessageStatus.Postponed },
            statuses);
        Assert.AreEqual(2, door.Running);
        Assert.AreEqual(2, block.Count);
    }

    [TestMethod]
    public void Concurrency_Raised_AdmitsPostponedRunsAtOnce()
    {
        var (queue, block, door, source) = Door(concurrency: 1);
        Offer(source, door, queue, 0);
        Offer(source, door, queue, 1);
        Offer(source, door, queue, 2);
        Offer(source, door, queue, 3);

        door.Concurrency = 3;

        Assert.AreEqual(3, door.Running);
        Assert.AreEqual(4, queue.Count, "none of the runs has started");
        CollectionAssert.AreEqual(new[] { 0, 1, 2 }, Drain(block).Select(run => run.Items[0]).ToArray());
        Assert.AreEqual(DataflowMessageStatus.Postponed, Offer(source, door, queue, 4), "the last postponed run still waits");
    }

    [TestMethod]
    public void Concurrency_Lowered_AdmitsNoMoreUntilRunsEndBelowIt()
    {
        var (queue, block, door, source) = Door(concurrency: 3);
        Offer(source, door, queue, 0);
        Offer(source, door, queue, 1);
        door.Concurrency = 1;

        var whileTwoRun = Offer(source, door, queue, 2);
        door.RunEnded(1);
        var afterOneEnded = block.Count;
        door.RunEnded(1);

        Assert.AreEqual(DataflowMessageStatus.Postponed, whileTwoRun);
        Assert.AreEqual(2, afterOneEnded, "one run still in progress: nothing admitted");
        Assert.AreEqual(3, block.Count);
        Assert.AreEqual(1, door.Running);
    }

    [TestMethod]
    public void Offer_OutputQueueFull_PostponesUntilRoomFrees()
    {
        var (queue, block, door, source) = Door(concurrency: 2);
        var output = new StageQueue(2, CancellationToken.None);
        door.Output = output;
        output.Add(2);

        var status = Offer(source, door, queue, 1);
        var admittedWhileFull = block.Count;
        output.Take(1);

        Assert.AreEqual(DataflowMessageStatus.Postponed, status);
        Assert.AreEqual(0, admittedWhileFull);
        Assert.AreEqual(1, block.Count, "room freed: the postponed run was admitted");
        Assert.AreEqual(0L, Drain(block).Single().Sequence);
    }

    [TestMethod]
    public void Offer_OutputQueueHasRoom_Admits()
    {
        var (queue, block, door, source) = Door(concurrency: 2);
        var output = new StageQueue(2, CancellationToken.None);
        door.Output = output;
        output.Add(1);

        var status = Offer(source, door, queue, 1);

        Assert.AreEqual(DataflowMessageStatus.Accepted, status);
        Assert.AreEqual(1, block.Count);
    }

    [TestMethod]
    public void Offer_ReorderingHoldsAQueuesWorth_PostponesUntilReleased()
    {
        var (queue, block, door, source) = Door(concurrency: 4, capacity: 4);
        var order = new OrderTracker();
        door.Order = order;

        // Run 1 ended before run 0 with a queue's worth of outputs.
        order.Ended(1, 4);
        var status = Offer(source, door, queue, 1);
        var admittedWhileHeld = block.Count;
        order.Ended(0, 0);

        Assert.AreEqual(DataflowMessageStatus.Postponed, status);
        Assert.AreEqual(0, admittedWhileHeld);
        Assert.AreEqual(1, block.Count, "the held outputs went on: the postponed run was admitted");
    }

    [TestMethod]
    public void Offer_ReorderingHoldsLessThanAQueuesWorth_Admits()
    {
        var (queue, block, door, source) = Door(concurrency: 4, capacity: 4);
        var order = new OrderTracker();
        door.Order = order;
        order.Ended(1, 3);

        var status = Offer(source, door, queue, 1);

        Assert.AreEqual(DataflowMessageStatus.Accepted, status);
        Assert.AreEqual(1, block.Count);
    }

    [TestMethod]
    public void RoomFreed_TwoRunsPostponed_AdmittedInOfferOrderAsRoomAndRunsFree()
    {
        var (queue, block, door, source) = Door(concurrency: 1);
        var output = new StageQueue(1, CancellationToken.None);
        door.Output = output;
        output.Add(1);
        Offer(source, door, queue, 1);

        // The output is full: both wait, in the order offered; room lets one in, the end of its run the other.
        var second = Offer(source, door, queue, 2);
        output.Take(1);

        Assert.AreEqual(DataflowMessageStatus.Postponed, second);
        CollectionAssert.AreEqual(new[] { 1 }, Drain(block).Select(run => run.Items[0]).ToArray());
        door.RunEnded(1);
        CollectionAssert.AreEqual(new[] { 2 }, Drain(block).Select(run => run.Items[0]).ToArray());
    }

    [TestMethod]
    public void RunEnded_OfferArrivesWhileAPostponedRunIsConsumed_PostponedBehindAndAdmittedAfterIt()
    {
        var (queue, block, door, source) = Door(concurrency: 1);
        Offer(source, door, queue, 1);
        Offer(source, door, queue, 2);
        var duringConsume = new List<DataflowMessageStatus>();
        source.Consuming = () =>
        {
            source.Consuming = null;
            door.Concurrency = 3;
            duringConsume.Add(Offer(source, door, queue, 3));
        };

        door.RunEnded(1);

        CollectionAssert.AreEqual(new[] { DataflowMessageStatus.Postponed }, duringConsume, "offered with room, but behind a run being consumed");
        var runs = Drain(block);
        CollectionAssert.AreEqual(new[] { 1, 2, 3 }, runs.Select(run => run.Items[0]).ToArray());
        CollectionAssert.AreEqual(new[] { 0L, 1L, 2L }, runs.Select(run => run.Sequence).ToArray());
        Assert.AreEqual(2, door.Running);
    }

    [TestMethod]
    public void RunEnded_PostponedMessagesTakenByOthers_SkipsThemAndAdmitsLaterOffers()
    {
        var (queue, block, door, source) = Door(concurrency: 1);
        Offer(source, door, queue, 1);
        Offer(source, door, queue, 2);
        Offer(source, door, queue, 3);
        source.Gives = false;

        door.RunEnded(1);

        Assert.AreEqual(3, source.ConsumeCalls, "both postponed messages were tried");
        Assert.AreEqual(0, door.Running);
        Assert.IsTrue(door.IsHungry);
        source.Gives = true;
        Assert.AreEqual(DataflowMessageStatus.Accepted, Offer(source, door, queue, 4));
        CollectionAssert.AreEqual(new[] { 0L, 1L }, Drain(block).Select(run => run.Sequence).ToArray());
    }

    [TestMethod]
    public void RunEnded_NothingPostponed_CallsStarved()
    {
        var (queue, _, door, source) = Door(concurrency: 1);
        var starved = 0;
        door.Starved = () => starved++;
        Offer(source, door, queue, 1);

        door.RunEnded(1);

        Assert.AreEqual(1, starved);
        Assert.IsTrue(door.IsHungry);
    }

    [TestMethod]
    public void RunEnded_PostponedRunStillBlockedByTheOutput_DoesNotCallStarved()
    {
        var (queue, _, door, source) = Door(concurrency: 1);
        var output = new StageQueue(1, CancellationToken.None);
        door.Output = output;
        var starved = 0;
        door.Starved = () => starved++;
        Offer(source, door, queue, 1);
        output.Add(1);
        Offer(source, door, queue, 2);

        door.RunEnded(1);

        Assert.AreEqual(0, starved);
        Assert.IsFalse(door.IsHungry);
        Assert.AreEqual(0, door.Running);
    }

    [TestMethod]
    public void IsHungry_RunningAndPostponed_OnlyWhenBelowConcurrencyWithNothingPostponed()
    {
        var (queue, _, door, source) = Door(concurrency: 2);
        var hungry = new List<bool> { door.IsHungry };

        Offer(source, door, queue, 1);
        hungry.Add(door.IsHungry);
        Offer(source, door, queue, 2);
        hungry.Add(door.IsHungry);
        Offer(source, door, queue, 3);
        hungry.Add(door.IsHungry);
        door.RunEnded(1);
        hungry.Add(door.IsHungry);
        door.RunEnded(1);
        hungry.Add(door.IsHungry);

        CollectionAssert.AreEqual(new[] { true, true, false, false, false, true }, hungry);
    }

    [TestMethod]
    public void CanTakeNow_WithOneRunAhead_TrueUntilConcurrencyPlusPrefetchAndFalseWhilePostponed()
    {
        var queue = new StageQueue(100, CancellationToken.None);
        var door = new StageDoor<int>(new BufferBlock<ItemRun<int>>(), queue, 1, CancellationToken.None) { Prefetch = 1 };
        var source = new HandSource();
        var canTake = new List<bool> { door.CanTakeNow };

        Offer(source, door, queue, 1);
        canTake.Add(door.CanTakeNow);
        var hungryWithOneRunning = door.IsHungry;
        Offer(source, door, queue, 2);
        canTake.Add(door.CanTakeNow);
        Offer(source, door, queue, 3);
        door.RunEnded(1);
        canTake.Add(door.CanTakeNow);
        door.RunEnded(1);
        door.RunEnded(1);
        canTake.Add(door.CanTakeNow);

        Assert.IsFalse(hungryWithOneRunning, "hungry counts no run ahead");
        CollectionAssert.AreEqual(new[] { true, true, false, false, true }, canTake);
    }

    [TestMethod]
    public async Task Complete_NothingInFlight_CompletesTheBlockAndDeclinesLaterOffers()
    {
        var (queue, block, door, source) = Door(concurrency: 1);

        door.Complete();
        await door.Completion.Within();

        Assert.AreSame(block.Completion, door.Completion);
        Assert.IsTrue(block.Completion.IsCompletedSuccessfully);
        Assert.AreEqual(DataflowMessageStatus.DecliningPermanently, Offer(source, door, queue, 1));
    }

    [TestMethod]
    public async Task Complete_WhileAPostponedRunIsConsumed_HandsItOverBeforeCompletingTheBlock()
    {
        var (queue, block, door, source) = Door(concurrency: 1);
        Offer(source, door, queue, 1);
        Offer(source, door, queue, 2);
        source.Consuming = () =>
        {
            source.Consuming = null;
            door.Complete();
        };

        door.RunEnded(1);
        var runs = Drain(block);
        await block.Completion.Within();

        CollectionAssert.AreEqual(new[] { 1, 2 }, runs.Select(run => run.Items[0]).ToArray());
        Assert.IsTrue(block.Completion.IsCompletedSuccessfully);
    }

    [TestMethod]
    public async Task Fault_RunsPostponed_FaultsTheBlockAndConsumesNothingMore()
    {
        var (queue, block, door, source) = Door(concurrency: 1);
        Offer(source, door, queue, 1);
        Offer(source, door, queue, 2);
        var error = new InvalidOperationException("stage failed");

        door.Fault(error);
        door.RunEnded(1);

        var thrown = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => door.Completion.Within());
        Assert.AreSame(error, thrown);
        Assert.AreEqual(1, source.ConsumeCalls);
        Assert.IsTrue(door.IsHungry, "the postponed offer was dropped");
        Assert.AreEqual(DataflowMessageStatus.DecliningPermanently, Offer(source, door, queue, 3));
    }

    [TestMethod]
    public void Cancel_RunsPostponed_DeclinesLaterOffersAndConsumesNothingMore()
    {
        var (queue, block, door, source) = Door(concurrency: 1);
        Offer(source, door, queue, 1);
        Offer(source, door, queue, 2);

        door.Cancel();
        door.RunEnded(1);

        Assert.AreEqual(1, source.ConsumeCalls);
        Assert.AreEqual(DataflowMessageStatus.DecliningPermanently, Offer(source, door, queue, 3));
        Assert.IsFalse(block.Completion.IsCompleted, "cancelling the door does not complete its block");
        Assert.AreEqual(1, block.Count);
    }

    [TestMethod]
    public void Offer_PipelineStopped_DeclinesPermanently()
    {
        using var stop = new CancellationTokenSource();
        var queue = new StageQueue(10, stop.Token);
        var block = new BufferBlock<ItemRun<int>>();
        var door = new StageDoor<int>(block, queue, 2, stop.Token);
        var source = new HandSource();
        Offer(source, door, queue, 1);

        stop.Cancel();
        var status = Offer(source, door, queue, 2);

        Assert.AreEqual(DataflowMessageStatus.DecliningPermanently, status);
        Assert.AreEqual(1, block.Count);
    }

    [TestMethod]
    public void RunEnded_PipelineStoppedWithRunsPostponed_ConsumesNothing()
    {
        using var stop = new CancellationTokenSource();
        var queue = new StageQueue(10, stop.Token);
        var block = new BufferBlock<ItemRun<int>>();
        var door = new StageDoor<int>(block, queue, 1, stop.Token);
        var source = new HandSource();
        Offer(source, door, queue, 1);
        Offer(source, door, queue, 2);

        stop.Cancel();
        door.RunEnded(1);

        Assert.AreEqual(1, source.ConsumeCalls);
        Assert.AreEqual(1, block.Count);
    }

    [TestMethod]
    public void Offer_BlockCompletedBehindTheDoor_RunDroppedAndNotCountedAsRunning()
    {
        var (queue, block, door, source) = Door(concurrency: 1);
        block.Complete();

        Offer(source, door, queue, 1);

        Assert.AreEqual(0, door.Running);
        Assert.AreEqual(0, block.Count);
        Assert.AreEqual(1, queue.Count, "the dropped run never started: its items stay counted where they waited");
        Assert.AreEqual(1, source.ConsumeCalls);
    }

    [TestMethod]
    public void OfferMessage_PipelineStopsWhileTheRunIsConsumed_RunDroppedAndItsItemsStayInTheQueue()
    {
        using var stop = new CancellationTokenSource();
        var queue = new StageQueue(10, stop.Token);
        var block = new BufferBlock<ItemRun<int>>();
        var door = new StageDoor<int>(block, queue, 2, stop.Token);
        var source = new HandSource { Consuming = stop.Cancel };

        var status = Offer(source, door, queue, 1, 2, 3);

        Assert.AreEqual(DataflowMessageStatus.Accepted, status, "consumed before the stop: the source no longer holds it");
        Assert.AreEqual(0, block.Count);
        Assert.AreEqual(0, door.Running);
        Assert.AreEqual(3, queue.Count, "items a stop dropped before they started are counted where they waited, as jobq's queues keep theirs");
    }

    [TestMethod]
    public void OfferMessage_InvalidHeaderOrNullSourceToConsume_Throws()
    {
        var (_, _, door, _) = Door(concurrency: 1);

        Assert.ThrowsExactly<ArgumentException>(() => door.OfferMessage(default, RunOf(1), null, consumeToAccept: false));
        Assert.ThrowsExactly<ArgumentException>(() => door.OfferMessage(new DataflowMessageHeader(1), RunOf(1), null, consumeToAccept: true));
        Assert.AreEqual(0, door.Running);
    }

    [TestMethod]
    public async Task LinkedBufferBlock_DoorInFrontOfABufferBlock_AdmitsAtMostConcurrencyInOrder()
    {
        const int Runs = 12;
        const int Concurrency = 2;
        var queue = new StageQueue(1000, CancellationToken.None);
        var block = new BufferBlock<ItemRun<int>>();
        var door = new StageDoor<int>(block, queue, Concurrency, CancellationToken.None);
        var source = new BufferBlock<ItemRun<int>>();
        source.LinkTo(door, new DataflowLinkOptions { PropagateCompletion = true });
        for (var r = 0; r < Runs; r++)
        {
            queue.Add(3);
            Assert.IsTrue(source.Post(RunOf(3 * r, (3 * r) + 1, (3 * r) + 2)));
        }

        var received = new List<ItemRun<int>>();
        var violations = new List<string>();
        while (received.Count < Runs)
        {
            var remaining = Runs - received.Count;
            var expected = Math.Min(Concurrency, remaining);
            Bounded.Until(() => block.Count == expected, $"{expected} runs admitted", () => $"block {block.Count}, source {source.Count}, running {door.Running}");
            if (source.Count != remaining - expected || door.Running != expected || queue.Count != 3 * remaining)
            {
                violations.Add($"at {received.Count}: source {source.Count}, running {door.Running}, queue {queue.Count}");
            }

            Assert.IsTrue(block.TryReceive(out var run));
            queue.Take(run.Count);
            received.Add(run);
            door.RunEnded(1);
        }

        source.Complete();
        await block.Completion.Within();

        Assert.IsEmpty(violations, string.Join("; ", violations));
        CollectionAssert.AreEqual(Enumerable.Range(0, Runs).Select(r => (long)r).ToArray(), received.Select(run => run.Sequence).ToArray());
        CollectionAssert.AreEqual(Enumerable.Range(0, 3 * Runs).ToArray(), received.SelectMany(run => run.Span.ToArray()).ToArray());
        Assert.AreEqual(0, queue.Count);
    }

    [TestMethod]
    public async Task LinkedBufferBlock_DoorInFrontOfAnActionBlock_ProcessesEveryRunInOrderOneAtATime()
    {
        const int Runs = 200;
        var queue = new StageQueue(1000, CancellationToken.None);
        var seen = new ConcurrentQueue<(long Sequence, int First, int Running)>();
        StageDoor<int>? door = null;
        var block = new ActionBlock<ItemRun<int>>(run =>
        {
            queue.Take(run.Count);
            seen.Enqueue((run.Sequence, run.Items[0], door!.Running));
            door.RunEnded(1);
        });
        door = new StageDoor<int>(block, queue, 1, CancellationToken.None);
        var source = new BufferBlock<ItemRun<int>>();
        source.LinkTo(door, new DataflowLinkOptions { PropagateCompletion = true });

        for (var r = 0; r < Runs; r++)
        {
            queue.Add(1);
            source.Post(RunOf(r));
        }

        source.Complete();
        await block.Completion.Within();

        var all = seen.ToArray();
        CollectionAssert.AreEqual(Enumerable.Range(0, Runs).Select(r => (long)r).ToArray(), all.Select(s => s.Sequence).ToArray());
        CollectionAssert.AreEqual(Enumerable.Range(0, Runs).ToArray(), all.Select(s => s.First).ToArray());
        Assert.IsTrue(all.All(s => s.Running == 1), "one run admitted at a time");
        Assert.AreEqual(0, queue.Count);
        Assert.AreEqual(0, door.Running);
    }

    [TestMethod]
    public async Task LinkedBufferBlock_DoorInFrontOfAParallelActionBlock_NeverMoreThanConcurrencyAndStampsFollowInput()
    {
        const int Runs = 300;
        const int Concurrency = 3;
        var queue = new StageQueue(1000, CancellationToken.None);
        var seen = new ConcurrentQueue<(long Sequence, int First)>();
        var most = 0;
        StageDoor<int>? door = null;
        var block = new ActionBlock<ItemRun<int>>(
            run =>
            {
                queue.Take(run.Count);
                Atomic.Max(ref most, door!.Running);

                seen.Enqueue((run.Sequence, run.Items[0]));
                door.RunEnded(1);
            },
            new ExecutionDataflowBlockOptions { MaxDegreeOfParallelism = Concurrency });
        door = new StageDoor<int>(block, queue, Concurrency, CancellationToken.None);
        var source = new BufferBlock<ItemRun<int>>();
        source.LinkTo(door, new DataflowLinkOptions { PropagateCompletion = true });

        for (var r = 0; r < Runs; r++)
        {
            queue.Add(1);
            source.Post(RunOf(r));
        }

        source.Complete();
        await block.Completion.Within();

        var all = seen.ToArray();
        Assert.HasCount(Runs, all);
        Assert.IsTrue(all.All(s => s.Sequence == s.First), "run k of the input is stamped k");
        Assert.IsLessThanOrEqualTo(Concurrency, most);
        Assert.AreEqual(0, queue.Count);
        Assert.AreEqual(0, door.Running);
    }

    /// <summary>
    /// A source that offers by hand, counts the door's consume calls, can refuse to give (another target took the
    /// message) and can run code inside a consume, as a source whose offering thread races with the door.
    /// </summary>
    private sealed class HandSource : ISourceBlock<ItemRun<int>>
    {
        private readonly Dictionary<long, ItemRun<int>> _available = [];
        private long _nextId;

        public int ConsumeCalls { get; private set; }

        public bool Gives { get; set; } = true;

        /// <summary>Gets or sets code to run inside the next consume, before the message is given.</summary>
        public Action? Consuming { get; set; }

        public Task Completion { get; } = new TaskCompletionSource().Task;

        public DataflowMessageStatus Offer(ITargetBlock<ItemRun<int>> target, ItemRun<int> run, bool consumeToAccept = true)
        {
            var header = new DataflowMessageHeader(++_nextId);
            _available[header.Id] = run;
            var status = target.OfferMessage(header, run, this, consumeToAccept);
            if (status == DataflowMessageStatus.Accepted && !consumeToAccept)
            {
                _available.Remove(header.Id);
            }

            return status;
        }

        public ItemRun<int> ConsumeMessage(DataflowMessageHeader messageHeader, ITargetBlock<ItemRun<int>> target, out bool messageConsumed)
        {
            ConsumeCalls++;
            Consuming?.Invoke();
            ItemRun<int> run = default;
            messageConsumed = Gives && _available.Remove(messageHeader.Id, out run);
            return run;
        }

        public bool ReserveMessage(DataflowMessageHeader messageHeader, ITargetBlock<ItemRun<int>> target)
            => throw new AssertFailedException("The door never reserves.");

        public void ReleaseReservation(DataflowMessageHeader messageHeader, ITargetBlock<ItemRun<int>> target)
            => throw new AssertFailedException("The door never reserves.");

        public IDisposable LinkTo(ITargetBlock<ItemRun<int>> target, DataflowLinkOptions linkOptions)
            => throw new NotSupportedException("This source offers by hand only.");

        public void Complete()
        {
        }

        public void Fault(Exception exception)
        {
        }
    }
}
