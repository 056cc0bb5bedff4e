using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Blocks.Contract;

/// <summary>
/// What a Dataflow user expects of any <see cref="IPropagatorBlock{TInput, TOutput}"/> linked among built-in
/// blocks: offers and their statuses, postponement, completion and faults over links, link options, reservations,
/// receiving, encapsulation. Each derived class runs every case on one block; <see cref="TransformBlockContractTests"/>
/// runs them on a <see cref="TransformBlock{TInput, TOutput}"/>, the control: a case it fails is a wrong case.
/// </summary>
/// <remarks>
/// Every block under test is made of a <see cref="GatedWorker"/> returning its item, so outputs equal inputs; tests
/// hold the worker on its gate to fill the block. Blocks that do not promise order are compared as sets.
/// </remarks>
public abstract class BlockContractTests
{
    private const int FillLimit = 10_000;

    private readonly List<IDataflowBlock> _blocks = [];
    private readonly List<GatedWorker> _workers = [];

    /// <summary>Gets whether the block counts a worker's failures in a probe's stage statistics.</summary>
    protected virtual bool CountsFailures => true;

    /// <summary>Gets how many worker calls a full block holds when items 0, 1, ... are posted to it one at a time
    /// while its worker is held (one per lane those items reach).</summary>
    protected virtual int HeldCallsWhenFull => 1;

    /// <summary>Makes the block under test around <paramref name="worker"/>, already running.</summary>
    private protected abstract IPropagatorBlock<int, int> Create(GatedWorker worker, BlockKnobs knobs);

    /// <summary>Gets the number of items the block accepts (in calls in progress or waiting) before <c>Post</c>
    /// declines, when its worker is held on its first calls and nothing receives its outputs.</summary>
    private protected abstract (int Min, int Max) FullBlockHolds(int queueSize);

    /// <summary>Gets the <paramref name="index"/>-th of a series of items that the block processes one after another
    /// on one lane (so the first one, held, keeps the others waiting).</summary>
    private protected virtual int SameLaneItem(int index) => index;

    /// <summary>Makes a block whose worker is held on its first call(s), with those items accepted.</summary>
    private protected virtual HeldBlock FillHeldBlock(int queueSize)
    {
        var worker = NewWorker(held: true);
        var block = Make(worker, new BlockKnobs { QueueSize = queueSize });
        for (var i = 0; i < HeldCallsWhenFull; i++)
        {
            Assert.IsTrue(block.Post(i), $"item {i} of the first {HeldCallsWhenFull} was declined");
            worker.WaitCalls(i + 1);
        }

        return new HeldBlock(block, HeldCallsWhenFull, worker.Open);
    }

    [TestCleanup]
    public void StopBlocksAndWorkers()
    {
        foreach (var worker in _workers)
        {
            worker.Open();
        }

        foreach (var block in _blocks)
        {
            block.Fault(new InvalidOperationException("The test ended."));
        }
    }

    // ---- Offers ------------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task OfferMessage_ValidMessage_ReturnsAcceptedAndTheItemComesOut()
    {
        var block = Make(NewWorker());

        var status = block.OfferMessage(new DataflowMessageHeader(1), 42, null, consumeToAccept: false);

        Assert.AreEqual(DataflowMessageStatus.Accepted, status);
        Assert.AreEqual(42, await block.ReceiveAsync(Bounded.Limit));
    }

    [TestMethod]
    public void OfferMessage_DefaultHeader_ThrowsArgumentException()
    {
        var block = Make(NewWorker());

        Assert.ThrowsExactly<ArgumentException>(() => block.OfferMessage(default, 1, null, consumeToAccept: false));
    }

    [TestMethod]
    public void OfferMessage_ConsumeToAcceptWithoutSource_ThrowsArgumentException()
    {
        var block = Make(NewWorker());

        Assert.ThrowsExactly<ArgumentException>(() => block.OfferMessage(new DataflowMessageHeader(1), 1, null, consumeToAccept: true));
    }

    [TestMethod]
    public async Task OfferMessage_AfterComplete_ReturnsDecliningPermanently()
    {
        var block = Make(NewWorker());
        block.Complete();

        Assert.AreEqual(DataflowMessageStatus.DecliningPermanently, block.OfferMessage(new DataflowMessageHeader(1), 1, null, consumeToAccept: false));
        await block.Completion.Within();
        Assert.AreEqual(DataflowMessageStatus.DecliningPermanently, block.OfferMessage(new DataflowMessageHeader(2), 2, null, consumeToAccept: false));
    }

    [TestMethod]
    public async Task OfferMessage_ConsumeToAccept_ConsumesTheItemFromTheSource()
    {
        var block = Make(NewWorker());
        var source = new CountingSource<int>();

        var status = source.Offer(block, 7, consumeToAccept: true);

        Assert.AreEqual(DataflowMessageStatus.Accepted, status);
        Assert.AreEqual(1, source.ConsumeCalls);
        CollectionAssert.AreEqual(new[] { 7 }, source.Consumed.ToList());
        Assert.AreEqual(7, await block.ReceiveAsync(Bounded.Limit));
    }

    [TestMethod]
    public async Task OfferMessage_ConsumeToAcceptButTheSourceGivesNothing_ReturnsNotAvailable()
    {
        var block = Make(NewWorker());
        var source = new CountingSource<int> { Gives = false };

        var status = source.Offer(block, 7, consumeToAccept: true);

        Assert.AreEqual(DataflowMessageStatus.NotAvailable, status);
        block.Complete();
        Assert.IsFalse(await block.OutputAvailableAsync().Within(), "an item the source never gave came out");
    }

    [TestMethod]
    public async Task OfferMessage_FullBlock_PostponesThenConsumesOnceThereIsRoom()
    {
        var worker = NewWorker(held: true);
        var block = Make(worker, new BlockKnobs { QueueSize = 2 });
        var accepted = FillHeld(block, worker);
        var source = new CountingSource<int>();

        var status = source.Offer(block, 999, consumeToAccept: false);

        Assert.AreEqual(DataflowMessageStatus.Postponed, status);
        var outputs = LinkSink(block);
        worker.Open();
        await source.FirstConsumed.Within();
        block.Complete();
        await block.Completion.Within();
        CollectionAssert.AreEquivalent(accepted.Append(999).ToList(), outputs.ToList());
    }

    [TestMethod]
    public async Task OfferMessage_FullBlockOfferedTheSameMessageThreeTimes_ConsumesItOnce()
    {
        var worker = NewWorker(held: true);
        var block = Make(worker, new BlockKnobs { QueueSize = 2 });
        var accepted = FillHeld(block, worker);
        var source = new CountingSource<int>();
        Assert.AreEqual(DataflowMessageStatus.Postponed, source.Offer(block, 999, consumeToAccept: false));

        Assert.AreEqual(DataflowMessageStatus.Postponed, source.Reoffer(block, source.LastHeader));
        Assert.AreEqual(DataflowMessageStatus.Postponed, source.Reoffer(block, source.LastHeader));
        var outputs = LinkSink(block);
        worker.Open();
        await source.FirstConsumed.Within();
        block.Complete();
        await block.Completion.Within();

        Assert.AreEqual(1, source.ConsumeCalls);
        CollectionAssert.AreEquivalent(accepted.Append(999).ToList(), outputs.ToList());
    }

    [TestMethod]
    public async Task OfferMessage_FullBlockOfferedManyMessagesByOneSource_ConsumesOnlyItsLatest()
    {
        // Dataflow keeps one postponed message per source, the latest it offered: a source whose earlier messages went
        // elsewhere meanwhile does not pile up in the block.
        var worker = NewWorker(held: true);
        var block = Make(worker, new BlockKnobs { QueueSize = 2 });
        var accepted = FillHeld(block, worker);
        var source = new CountingSource<int>();
        for (var i = 0; i < 50; i++)
        {
            Assert.AreEqual(DataflowMessageStatus.Postponed, source.Offer(block, 1000 + i, consumeToAccept: false));
        }

        var outputs = LinkSink(block);
        worker.Open();
        await source.FirstConsumed.Within();
        block.Complete();
        await block.Completion.Within();

        Assert.AreEqual(1, source.ConsumeCalls);
        CollectionAssert.AreEqual(new[] { source.LastHeader.Id }, source.ConsumedHeaders.ToArray());
        CollectionAssert.AreEquivalent(accepted.Append(1049).ToList(), outputs.ToList());
    }

    [TestMethod]
    public async Task OfferMessage_PostponedSourceThrowsOnConsume_BlockFaultsWithThatException()
    {
        var worker = NewWorker(held: true);
        var block = Make(worker, new BlockKnobs { QueueSize = 2 });
        FillHeld(block, worker);
        var error = new FormatException("the source broke");
        var source = new CountingSource<int> { ThrowsOnConsume = error };
        Assert.AreEqual(DataflowMessageStatus.Postponed, source.Offer(block, 999, consumeToAccept: false));

        LinkSink(block);
        worker.Open();
        await source.FirstConsumeCall.Within();

        await Assert.ThrowsAsync<Exception>(() => block.Completion.Within());
        Assert.AreEqual(TaskStatus.Faulted, block.Completion.Status);
        CollectionAssert.Contains(block.Completion.Exception!.Flatten().InnerExceptions.ToList(), error);
    }

    [TestMethod]
    public async Task SendAsync_FullBlock_CompletesTrueOnceThereIsRoom()
    {
        var worker = NewWorker(held: true);
        var block = Make(worker, new BlockKnobs { QueueSize = 2 });
        var accepted = FillHeld(block, worker);

        var send = block.SendAsync(999);

        Assert.IsFalse(send.IsCompleted, "SendAsync to a full block completed at once");
        var outputs = LinkSink(block);
        worker.Open();
        Assert.IsTrue(await send.Within());
        block.Complete();
        await block.Completion.Within();
        CollectionAssert.AreEquivalent(accepted.Append(999).ToList(), outputs.ToList());
    }

    [TestMethod]
    public async Task SendAsync_CancelledWhilePostponed_EndsCanceledAndTheItemIsNeverTaken()
    {
        var worker = NewWorker(held: true);
        var block = Make(worker, new BlockKnobs { QueueSize = 2 });
        var accepted = FillHeld(block, worker);
        using var cancel = new CancellationTokenSource();
        var send = block.SendAsync(999, cancel.Token);
        Assert.IsFalse(send.IsCompleted, "SendAsync to a full block completed at once");

        await cancel.CancelAsync();

        await Assert.ThrowsAsync<OperationCanceledException>(() => send.Within());
        var outputs = LinkSink(block);
        worker.Open();
        block.Complete();
        await block.Completion.Within();
        CollectionAssert.AreEquivalent(accepted, outputs.ToList());
    }

    /// <summary>
    /// A block that completes releases the offers it still holds postponed once it has completed: a SendAsync waiting
    /// for room then ends false, and the item is not taken.
    /// </summary>
    [TestMethod]
    public async Task SendAsync_PostponedWhenTheBlockCompletes_ReturnsFalseOnceCompleted()
    {
        var worker = NewWorker(held: true);
        var block = Make(worker, new BlockKnobs { QueueSize = 2 });
        var accepted = FillHeld(block, worker);
        var send = block.SendAsync(999);
        Assert.IsFalse(send.IsCompleted, "SendAsync to a full block completed at once");

        block.Complete();
        var outputs = LinkSink(block);
        worker.Open();
        await block.Completion.Within();

        Assert.IsFalse(await send.Within(), "the postponed item was taken after Complete");
        CollectionAssert.AreEquivalent(accepted, outputs.ToList());
    }

    /// <summary>A block that faults releases the offers it postponed: once it has ended, a SendAsync waiting for room ends false.</summary>
    [TestMethod]
    public async Task SendAsync_PostponedWhenTheBlockFaults_ReturnsFalseOnceEnded()
    {
        var worker = NewWorker(held: true);
        var block = Make(worker, new BlockKnobs { QueueSize = 2 });
        FillHeld(block, worker);
        var send = block.SendAsync(999);
        Assert.IsFalse(send.IsCompleted, "SendAsync to a full block completed at once");

        block.Fault(new InvalidOperationException("faulted by the test"));
        worker.Open();
        await Assert.ThrowsAsync<InvalidOperationException>(() => block.Completion.Within());

        Assert.IsFalse(await send.Within());
    }

    [TestMethod]
    public async Task SendAsync_AfterComplete_ReturnsFalse()
    {
        var block = Make(NewWorker());
        block.Complete();

        Assert.IsFalse(await block.SendAsync(1).Within());
    }

    [TestMethod]
    public async Task Post_AfterComplete_ReturnsFalse()
    {
        var block = Make(NewWorker());
        Assert.IsTrue(block.Post(1));
        block.Complete();

        Assert.IsFalse(block.Post(2));
        Assert.AreEqual(1, await block.ReceiveAsync(Bounded.Limit));
        await block.Completion.Within();
        Assert.IsFalse(block.Post(3));
    }

    [TestMethod]
    public async Task Post_AfterFault_ReturnsFalse()
    {
        var block = Make(NewWorker());
        block.Fault(new InvalidOperationException("stop"));

        Assert.IsFalse(block.Post(1));
        await Assert.ThrowsAsync<Exception>(() => block.Completion.Within());
        Assert.IsFalse(block.Post(2));
    }

    // ---- Completion and faults ---------------------------------------------------------------------------------

    [TestMethod]
    public async Task Complete_EmptyBlock_CompletionRunsToCompletion()
    {
        var block = Make(NewWorker());

        block.Complete();
        block.Complete();

        await block.Completion.Within();
        Assert.AreEqual(TaskStatus.RanToCompletion, block.Completion.Status);
    }

    [TestMethod]
    public async Task Complete_CallInProgress_CompletionWaitsForIt()
    {
        var worker = NewWorker(held: true);
        var block = Make(worker);
        Assert.IsTrue(block.Post(1));
        worker.WaitCalls(1);

        block.Complete();

        Assert.IsFalse(block.Completion.IsCompleted, "Completion ended while a call was in progress");
        Assert.IsFalse(Bounded.TryUntil(() => block.Completion.IsCompleted, Bounded.Watch), "Completion ended while a call was in progress");
        worker.Open();
        Assert.AreEqual(1, await block.ReceiveAsync(Bounded.Limit));
        await block.Completion.Within();
        Assert.AreEqual(TaskStatus.RanToCompletion, block.Completion.Status);
    }

    [TestMethod]
    public async Task Complete_OutputNotReceived_CompletionWaitsForTheConsumer()
    {
        var block = Make(NewWorker());
        Assert.IsTrue(block.Post(1));
        block.Complete();

        Assert.IsTrue(await block.OutputAvailableAsync().Within());

        Assert.IsFalse(Bounded.TryUntil(() => block.Completion.IsCompleted, Bounded.Watch), "Completion ended with an output still waiting");
        Assert.AreEqual(1, await block.ReceiveAsync(Bounded.Limit));
        await block.Completion.Within();
    }

    [TestMethod]
    public async Task Fault_Exception_CompletionEndsFaultedWithIt()
    {
        var block = Make(NewWorker());
        var error = new InvalidOperationException("stop");

        block.Fault(error);

        await Assert.ThrowsAsync<Exception>(() => block.Completion.Within());
        Assert.AreEqual(TaskStatus.Faulted, block.Completion.Status);
        CollectionAssert.Contains(block.Completion.Exception!.Flatten().InnerExceptions.ToList(), error);
    }

    [TestMethod]
    public async Task Fault_AfterComplete_IsIgnoredAndTheWaitingItemsAreDropped()
    {
        // Dataflow's blocks keep no fault from outside once they decline for good; the fault still drops the input
        // waiting in them, while a call in progress finishes and its output is delivered.
        var worker = NewWorker(held: true);
        var block = Make(worker, new BlockKnobs { QueueSize = 16 });
        var accepted = FillHeld(block, worker);

        block.Complete();
        block.Fault(new InvalidOperationException("late"));
        var outputs = LinkSink(block);
        worker.Open();

        await block.Completion.Within();
        Assert.AreEqual(TaskStatus.RanToCompletion, block.Completion.Status);
        Assert.IsGreaterThanOrEqualTo(1, outputs.Count);
        Assert.IsLessThan(accepted.Count, outputs.Count, "none of the waiting items was dropped");
        Assert.AreEqual(outputs.Count, worker.Calls, "a call's output was lost");
    }

    [TestMethod]
    public void Fault_NullException_ThrowsArgumentNullException()
    {
        var block = Make(NewWorker());

        Assert.ThrowsExactly<ArgumentNullException>(() => block.Fault(null!));
    }

    [TestMethod]
    public async Task LinkTo_PropagateCompletion_CompletesTheTargetAfterTheLastItem()
    {
        var block = Make(NewWorker());
        var target = new BufferBlock<int>();
        block.LinkTo(target, new DataflowLinkOptions { PropagateCompletion = true });
        for (var i = 0; i < 5; i++)
        {
            Assert.IsTrue(block.Post(i));
        }

        block.Complete();

        await block.Completion.Within();
        Assert.IsTrue(target.TryReceiveAll(out var items));
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 5).ToList(), items.ToList());
        await target.Completion.Within();
    }

    [TestMethod]
    public async Task LinkTo_PropagateCompletionAndTheBlockFaults_FaultsTheTargetWithTheException()
    {
        var block = Make(NewWorker());
        var target = new BufferBlock<int>();
        block.LinkTo(target, new DataflowLinkOptions { PropagateCompletion = true });
        var error = new InvalidOperationException("stop");

        block.Fault(error);

        await Assert.ThrowsAsync<Exception>(() => target.Completion.Within());
        CollectionAssert.Contains(target.Completion.Exception!.Flatten().InnerExceptions.ToList(), error);
    }

    [TestMethod]
    public async Task LinkTo_UpstreamFaultsWithPropagateCompletion_FaultsTheBlock()
    {
        var upstream = new BufferBlock<int>();
        var block = Make(NewWorker());
        upstream.LinkTo(block, new DataflowLinkOptions { PropagateCompletion = true });
        var error = new InvalidOperationException("upstream broke");

        ((IDataflowBlock)upstream).Fault(error);

        await Assert.ThrowsAsync<Exception>(() => block.Completion.Within());
        CollectionAssert.Contains(block.Completion.Exception!.Flatten().InnerExceptions.ToList(), error);
    }

    [TestMethod]
    public async Task LinkTo_UpstreamCompletesWithPropagateCompletion_BlockPassesEverythingThenCompletes()
    {
        var upstream = new BufferBlock<int>();
        var block = Make(NewWorker());
        var link = new DataflowLinkOptions { PropagateCompletion = true };
        upstream.LinkTo(block, link);
        var outputs = LinkSink(block);
        for (var i = 0; i < 100; i++)
        {
            Assert.IsTrue(await upstream.SendAsync(i).Within());
        }

        upstream.Complete();

        await block.Completion.Within();
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 100).ToList(), outputs.ToList());
    }

    [TestMethod]
    public async Task LinkTo_CompletedBlockWithPropagateCompletion_CompletesTheNewTarget()
    {
        var block = Make(NewWorker());
        block.Complete();
        await block.Completion.Within();
        var target = new BufferBlock<int>();

        block.LinkTo(target, new DataflowLinkOptions { PropagateCompletion = true });

        await target.Completion.Within();
        Assert.AreEqual(TaskStatus.RanToCompletion, target.Completion.Status);
    }

    [TestMethod]
    public async Task LinkTo_TargetThrowsFromOfferMessage_FaultsTheBlockWithThatException()
    {
        var block = Make(NewWorker());
        var target = new OfferThrowingTarget<int>(acceptFirst: 0);
        block.LinkTo(target);

        Assert.IsTrue(block.Post(1));

        await Assert.ThrowsAsync<Exception>(() => block.Completion.Within());
        CollectionAssert.Contains(block.Completion.Exception!.Flatten().InnerExceptions.ToList(), target.Error);
    }

    [TestMethod]
    public async Task LinkTo_PropagateCompletionAndTheBlockFaults_TheTargetIsFaultedWithTheBlocksAggregate()
    {
        var block = Make(NewWorker());
        var target = new BufferBlock<int>();
        block.LinkTo(target, new DataflowLinkOptions { PropagateCompletion = true });
        var error = new InvalidOperationException("stop");

        block.Fault(error);

        await SettledAsync(target.Completion);
        var inner = target.Completion.Exception!.InnerException as AggregateException;
        Assert.IsNotNull(inner, "the target was not faulted with the block's Completion.Exception");
        CollectionAssert.Contains(inner.InnerExceptions.ToList(), error);
    }

    [TestMethod]
    public async Task LinkTo_LinkDisposedWithPropagateCompletion_TheBlockFaultingLeavesTheTargetOpen()
    {
        var block = Make(NewWorker());
        var unlinked = new BufferBlock<int>();
        var linked = new CollectingTarget<int>();
        block.LinkTo(unlinked, new DataflowLinkOptions { PropagateCompletion = true }).Dispose();
        block.LinkTo(linked, new DataflowLinkOptions { PropagateCompletion = true });

        block.Fault(new InvalidOperationException("stop"));

        await SettledAsync(linked.Completion);
        Assert.IsTrue(unlinked.Post(1), "completion reached a target whose link was disposed");
    }

    [TestMethod]
    public async Task LinkTo_MaxMessagesReachedWithPropagateCompletion_TheTargetStaysOpen()
    {
        var block = Make(NewWorker());
        var first = new BufferBlock<int>();
        var rest = new CollectingTarget<int>();
        block.LinkTo(first, new DataflowLinkOptions { MaxMessages = 2, PropagateCompletion = true });
        block.LinkTo(rest, new DataflowLinkOptions { PropagateCompletion = true });
        for (var i = 0; i < 5; i++)
        {
            Assert.IsTrue(block.Post(i));
        }

        block.Complete();

        await rest.Completion.Within();
        Assert.AreEqual(2, first.Count);
        Assert.IsTrue(first.Post(99), "completion reached a target whose link had ended after MaxMessages");
    }

    [TestMethod]
    public void LinkTo_LinkDisposedWithPropagateCompletion_TheBlockNoLongerHoldsTheTarget()
    {
        var block = Make(NewWorker());

        var target = LinkAndUnlink(block);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.IsFalse(target.IsAlive, "the block keeps a target whose link was disposed");
        GC.KeepAlive(block);
    }

    [TestMethod]
    public async Task LinkTo_ItemOffered_TheTargetSeesTheBlockAsItsSource()
    {
        var block = Make(NewWorker());
        var offered = new TaskCompletionSource<ISourceBlock<int>?>(TaskCreationOptions.RunContinuationsAsynchronously);
        block.LinkTo(new CollectingTarget<int> { Accepted = source => offered.TrySetResult(source) });

        Assert.IsTrue(block.Post(1));

        Assert.AreSame(block, await offered.Task.Within());
    }

    [TestMethod]
    public async Task LinkTo_TargetCompletesTheSourceThatOffered_TheBlockDeclinesLaterItemsAndCompletes()
    {
        var block = Make(NewWorker());
        var target = new CollectingTarget<int> { Accepted = source => source?.Complete() };
        block.LinkTo(target);

        Assert.IsTrue(block.Post(0));

        await block.Completion.Within();
        Assert.AreEqual(TaskStatus.RanToCompletion, block.Completion.Status);
        Assert.IsFalse(block.Post(1));
        CollectionAssert.AreEqual(new[] { 0 }, target.Items.ToList());
    }

    // ---- Links -------------------------------------------------------------------------------------------------

    [TestMethod]
    public void LinkTo_NullTarget_ThrowsArgumentNullException()
    {
        var block = Make(NewWorker());

        Assert.ThrowsExactly<ArgumentNullException>(() => block.LinkTo(null!, new DataflowLinkOptions()));
    }

    [TestMethod]
    public async Task LinkTo_DisposeTheLink_LaterItemsStayInTheBlock()
    {
        var block = Make(NewWorker());
        var target = new BufferBlock<int>();
        var link = block.LinkTo(target);
        Assert.IsTrue(block.Post(1));
        Assert.AreEqual(1, await target.ReceiveAsync(Bounded.Limit));

        link.Dispose();
        Assert.IsTrue(block.Post(2));

        Assert.IsTrue(await block.OutputAvailableAsync().Within());
        Assert.AreEqual(0, target.Count, "an unlinked target got an item");
        Assert.AreEqual(2, await block.ReceiveAsync(Bounded.Limit));
    }

    [TestMethod]
    public async Task LinkTo_Predicate_ItemsItRejectsStayForAnotherTarget()
    {
        var block = Make(NewWorker());
        var evens = new BufferBlock<int>();
        block.LinkTo(evens, x => x % 2 == 0);
        Assert.IsTrue(block.Post(1));
        Assert.IsTrue(await block.OutputAvailableAsync().Within());
        Assert.AreEqual(0, evens.Count, "the predicate let an odd item through");

        var odds = new BufferBlock<int>();
        block.LinkTo(odds, x => x % 2 == 1);
        Assert.AreEqual(1, await odds.ReceiveAsync(Bounded.Limit));
        Assert.IsTrue(block.Post(2));

        Assert.AreEqual(2, await evens.ReceiveAsync(Bounded.Limit));
        Assert.AreEqual(0, odds.Count);
    }

    [TestMethod]
    public async Task LinkTo_MaxMessages_UnlinksAfterThatMany()
    {
        var block = Make(NewWorker());
        var first = new BufferBlock<int>();
        var second = new BufferBlock<int>();
        block.LinkTo(first, new DataflowLinkOptions { MaxMessages = 2 });
        block.LinkTo(second);

        for (var i = 0; i < 5; i++)
        {
            Assert.IsTrue(block.Post(i));
        }

        block.Complete();
        await block.Completion.Within();
        Assert.AreEqual(2, first.Count);
        Assert.AreEqual(3, second.Count);
    }

    [TestMethod]
    public async Task LinkTo_SameTargetLinkedAgainAndThatLinkDisposed_TheFirstLinksMaxMessagesStillHolds()
    {
        // Each link is its own, even to the same target: ending one leaves the other's count where it was.
        var block = Make(NewWorker());
        var target = new BufferBlock<int>(new DataflowBlockOptions { BoundedCapacity = 1 });
        Assert.IsTrue(target.Post(-1));
        block.LinkTo(target, new DataflowLinkOptions { MaxMessages = 2 });
        block.LinkTo(target).Dispose();
        for (var i = 0; i < 4; i++)
        {
            Assert.IsTrue(block.Post(SameLaneItem(i)));
        }

        var taken = new List<int>();
        while (taken.Count < 3)
        {
            taken.Add(await target.ReceiveAsync(Bounded.Limit));
        }

        // The two items the link may not take stay in the block (a broken link would take one of them).
        block.Complete();
        var left = new List<int> { await block.ReceiveAsync(Bounded.Limit), await block.ReceiveAsync(Bounded.Limit) };
        await block.Completion.Within();
        Assert.AreEqual(0, target.Count);
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 4).Select(SameLaneItem).ToList(), taken.Where(item => item >= 0).Concat(left).ToList());
    }

    [TestMethod]
    public async Task LinkTo_AppendFalse_TheNewTargetIsOfferedFirst()
    {
        var block = Make(NewWorker());
        var older = new BufferBlock<int>();
        var newer = new BufferBlock<int>();
        block.LinkTo(older);
        block.LinkTo(newer, new DataflowLinkOptions { Append = false });

        Assert.IsTrue(block.Post(1));

        Assert.AreEqual(1, await newer.ReceiveAsync(Bounded.Limit));
        Assert.AreEqual(0, older.Count);
    }

    [TestMethod]
    public async Task LinkTo_DataflowNullTarget_TakesEveryItemAndTheBlockCompletes()
    {
        var block = Make(NewWorker());
        block.LinkTo(DataflowBlock.NullTarget<int>());
        for (var i = 0; i < 50; i++)
        {
            Assert.IsTrue(await block.SendAsync(i).Within());
        }

        block.Complete();

        await block.Completion.Within();
        Assert.AreEqual(TaskStatus.RanToCompletion, block.Completion.Status);
        Assert.IsFalse(Receivable(block).TryReceive(out _));
    }

    // ---- Reservations on the source side -----------------------------------------------------------------------

    [TestMethod]
    public async Task ReserveMessage_OfferedMessage_ReservesThenConsumeGivesIt()
    {
        var block = Make(NewWorker());
        var target = new PostponingTarget<int>();
        block.LinkTo(target);
        Assert.IsTrue(block.Post(7));
        var (header, value) = await target.FirstOffer.Within();

        Assert.IsTrue(block.ReserveMessage(header, target));
        var consumedValue = block.ConsumeMessage(header, target, out var consumed);

        Assert.AreEqual(7, value);
        Assert.IsTrue(consumed);
        Assert.AreEqual(7, consumedValue);
        block.Complete();
        await block.Completion.Within();
    }

    [TestMethod]
    public async Task ReserveMessage_Reserved_TryReceiveGetsNothingUntilReleased()
    {
        var block = Make(NewWorker());
        var target = new PostponingTarget<int>();
        block.LinkTo(target);
        Assert.IsTrue(block.Post(7));
        var (header, _) = await target.FirstOffer.Within();
        Assert.IsTrue(block.ReserveMessage(header, target));

        Assert.IsFalse(Receivable(block).TryReceive(out _), "TryReceive took a reserved item");

        block.ReleaseReservation(header, target);
        Assert.IsTrue(Receivable(block).TryReceive(out var item));
        Assert.AreEqual(7, item);
    }

    /// <summary>
    /// Posts 7 to a new block linked to a postponing target, which reserves the offer either through that link
    /// (<paramref name="reserveFirst"/>) or once the link is disposed; the target is then linked again.
    /// </summary>
    private async Task<(IPropagatorBlock<int, int> Block, PostponingTarget<int> Target, DataflowMessageHeader Header, IDisposable Relink)> ReservedAcrossARelink(bool reserveFirst)
    {
        var block = Make(NewWorker());
        var target = new PostponingTarget<int>();
        var link = block.LinkTo(target);
        Assert.IsTrue(block.Post(7));
        var (header, _) = await target.FirstOffer.Within();
        if (reserveFirst)
        {
            Assert.IsTrue(block.ReserveMessage(header, target));
        }

        link.Dispose();
        if (!reserveFirst)
        {
            Assert.IsTrue(block.ReserveMessage(header, target));
        }

        return (block, target, header, block.LinkTo(target));
    }

    [TestMethod]
    public async Task ConsumeMessage_ReservedWhileUnlinkedThenLinkedAgain_GivesItAndTheBlockGoesOn()
    {
        var (block, target, header, _) = await ReservedAcrossARelink(reserveFirst: false);

        var value = block.ConsumeMessage(header, target, out var consumed);

        Assert.IsTrue(consumed);
        Assert.AreEqual(7, value);
        Assert.IsTrue(block.Post(8));
        block.Complete();
        Assert.AreEqual(8, await Receivable(block).ReceiveAsync().Within());
        await block.Completion.Within();
    }

    [TestMethod]
    public async Task ReleaseReservation_ReservedWhileUnlinkedThenLinkedAgain_ReleasesAndTheItemCanBeReceived()
    {
        var (block, target, header, relink) = await ReservedAcrossARelink(reserveFirst: false);

        block.ReleaseReservation(header, target);

        relink.Dispose();
        Assert.IsTrue(Receivable(block).TryReceive(out var item));
        Assert.AreEqual(7, item);
    }

    [TestMethod]
    public async Task ConsumeMessage_ReservedThroughALinkThatEndedThenLinkedAgain_GivesIt()
    {
        var (block, target, header, _) = await ReservedAcrossARelink(reserveFirst: true);

        var value = block.ConsumeMessage(header, target, out var consumed);

        Assert.IsTrue(consumed);
        Assert.AreEqual(7, value);
    }

    [TestMethod]
    public async Task ConsumeMessage_OfferedMessageWithoutReservation_GivesIt()
    {
        var block = Make(NewWorker());
        var target = new PostponingTarget<int>();
        block.LinkTo(target);
        Assert.IsTrue(block.Post(7));
        var (header, _) = await target.FirstOffer.Within();

        var value = block.ConsumeMessage(header, target, out var consumed);

        Assert.IsTrue(consumed);
        Assert.AreEqual(7, value);
        Assert.IsFalse(Receivable(block).TryReceive(out _), "a consumed item could be received again");
    }

    [TestMethod]
    public async Task ConsumeMessage_UnknownHeader_ReturnsNotConsumed()
    {
        var block = Make(NewWorker());
        var target = new PostponingTarget<int>();
        block.LinkTo(target);
        Assert.IsTrue(block.Post(7));
        var (header, _) = await target.FirstOffer.Within();

        block.ConsumeMessage(new DataflowMessageHeader(header.Id + 1000), target, out var consumed);

        Assert.IsFalse(consumed);
        Assert.AreEqual(7, block.ConsumeMessage(header, target, out consumed));
        Assert.IsTrue(consumed);
    }

    [TestMethod]
    public async Task ReleaseReservation_NotReserved_ThrowsInvalidOperationException()
    {
        var block = Make(NewWorker());
        var target = new PostponingTarget<int>();
        block.LinkTo(target);
        Assert.IsTrue(block.Post(7));
        var (header, _) = await target.FirstOffer.Within();

        Assert.ThrowsExactly<InvalidOperationException>(() => block.ReleaseReservation(header, target));
    }

    [TestMethod]
    public void ConsumeReserveRelease_NullTarget_ThrowArgumentNullExceptionNamingTarget()
    {
        var block = Make(NewWorker());
        var header = new DataflowMessageHeader(1);

        Assert.AreEqual("target", Assert.ThrowsExactly<ArgumentNullException>(() => block.ConsumeMessage(header, null!, out _)).ParamName);
        Assert.AreEqual("target", Assert.ThrowsExactly<ArgumentNullException>(() => block.ReserveMessage(header, null!)).ParamName);
        Assert.AreEqual("target", Assert.ThrowsExactly<ArgumentNullException>(() => block.ReleaseReservation(header, null!)).ParamName);
    }

    [TestMethod]
    public void ConsumeReserveRelease_DefaultHeader_ThrowArgumentExceptionNamingTheHeader()
    {
        var block = Make(NewWorker());
        var target = new BufferBlock<int>();

        Assert.AreEqual("messageHeader", Assert.ThrowsExactly<ArgumentException>(() => block.ConsumeMessage(default, target, out _)).ParamName);
        Assert.AreEqual("messageHeader", Assert.ThrowsExactly<ArgumentException>(() => block.ReserveMessage(default, target)).ParamName);
        Assert.AreEqual("messageHeader", Assert.ThrowsExactly<ArgumentException>(() => block.ReleaseReservation(default, target)).ParamName);
    }

    // ---- Receiving ---------------------------------------------------------------------------------------------

    [TestMethod]
    public void TryReceive_EmptyBlock_ReturnsFalse()
    {
        var block = Make(NewWorker());

        Assert.IsFalse(Receivable(block).TryReceive(out _));
        Assert.IsFalse(Receivable(block).TryReceiveAll(out var items));
        Assert.IsNull(items);
    }

    [TestMethod]
    public async Task TryReceive_Filter_TakesOnlyAMatchingItem()
    {
        var block = Make(NewWorker());
        Assert.IsTrue(block.Post(2));
        Assert.IsTrue(await block.OutputAvailableAsync().Within());

        Assert.IsFalse(Receivable(block).TryReceive(x => x == 3, out _));
        Assert.IsTrue(Receivable(block).TryReceive(x => x == 2, out var item));
        Assert.AreEqual(2, item);
    }

    [TestMethod]
    public void TryReceiveAll_ItemsWaiting_ReturnsThemAll()
    {
        var block = Make(NewWorker());
        for (var i = 0; i < 10; i++)
        {
            Assert.IsTrue(block.Post(i));
        }

        var received = new List<int>();
        Bounded.Until(
            () =>
            {
                if (Receivable(block).TryReceiveAll(out var items))
                {
                    Assert.IsNotEmpty(items);
                    received.AddRange(items);
                }

                return received.Count >= 10;
            },
            "every output to be received by TryReceiveAll",
            () => $"{received.Count} received");

        CollectionAssert.AreEquivalent(Enumerable.Range(0, 10).ToList(), received);
    }

    [TestMethod]
    public async Task OutputAvailableAsync_ItemArrives_ReturnsTrue()
    {
        var block = Make(NewWorker());
        var available = block.OutputAvailableAsync();
        Assert.IsFalse(available.IsCompleted);

        Assert.IsTrue(block.Post(1));

        Assert.IsTrue(await available.Within());
        Assert.AreEqual(1, await block.ReceiveAsync(Bounded.Limit));
    }

    [TestMethod]
    public async Task OutputAvailableAsync_CompletedEmpty_ReturnsFalse()
    {
        var block = Make(NewWorker());
        var available = block.OutputAvailableAsync();

        block.Complete();

        Assert.IsFalse(await available.Within());
        Assert.IsFalse(await block.OutputAvailableAsync().Within());
    }

    [TestMethod]
    public async Task OutputAvailableAsync_CalledManyTimes_HoldsNothingForTheCallsOnceTheyReturn()
    {
        const int Calls = 50_000;
        var block = Make(NewWorker());
        Assert.IsTrue(block.Post(1));
        Assert.IsTrue(await block.OutputAvailableAsync().Within());
        var before = GC.GetTotalMemory(forceFullCollection: true);

        for (var i = 0; i < Calls; i++)
        {
            Assert.IsTrue(await block.OutputAvailableAsync().Within());
        }

        var held = GC.GetTotalMemory(forceFullCollection: true) - before;
        Assert.IsLessThan(1 << 20, held, $"{held} bytes held after {Calls} calls");
        GC.KeepAlive(block);
    }

    [TestMethod]
    public async Task ReceiveAsync_ItemArrives_ReturnsIt()
    {
        var block = Make(NewWorker());
        var receive = block.ReceiveAsync(Bounded.Limit);

        Assert.IsTrue(block.Post(5));

        Assert.AreEqual(5, await receive.Within());
    }

    [TestMethod]
    public async Task ReceiveAsync_CompletedEmpty_ThrowsInvalidOperationException()
    {
        var block = Make(NewWorker());
        block.Complete();
        await block.Completion.Within();

        await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => block.ReceiveAsync(Bounded.Limit));
    }

    // ---- Encapsulation and whole graphs -------------------------------------------------------------------------

    [TestMethod]
    public async Task Encapsulate_BlockAsTheTargetHalf_PassesItemsAndCompletion()
    {
        var block = Make(NewWorker());
        var output = new BufferBlock<int>();
        block.LinkTo(output, new DataflowLinkOptions { PropagateCompletion = true });
        var whole = DataflowBlock.Encapsulate(block, output);

        for (var i = 0; i < 20; i++)
        {
            Assert.IsTrue(await whole.SendAsync(i).Within());
        }

        whole.Complete();

        CollectionAssert.AreEquivalent(Enumerable.Range(0, 20).ToList(), await DrainAsync(whole));
        await whole.Completion.Within();
        Assert.AreEqual(TaskStatus.RanToCompletion, whole.Completion.Status);
    }

    [TestMethod]
    public async Task Encapsulate_BlockAsTheSourceHalf_PassesItemsAndCompletion()
    {
        var block = Make(NewWorker());
        var input = new BufferBlock<int>();
        input.LinkTo(block, new DataflowLinkOptions { PropagateCompletion = true });
        var whole = DataflowBlock.Encapsulate(input, block);

        for (var i = 0; i < 20; i++)
        {
            Assert.IsTrue(await whole.SendAsync(i).Within());
        }

        whole.Complete();

        CollectionAssert.AreEquivalent(Enumerable.Range(0, 20).ToList(), await DrainAsync(whole));
        await whole.Completion.Within();
        Assert.AreEqual(TaskStatus.RanToCompletion, whole.Completion.Status);
    }

    [TestMethod]
    public async Task LinkTo_ManyItemsWithDefaultOptions_EveryItemComesOutOnce()
    {
        var upstream = new BufferBlock<int>();
        var block = Make(NewWorker(jitter: true), new BlockKnobs { QueueSize = 8, Parallelism = 3 });
        upstream.LinkTo(block, new DataflowLinkOptions { PropagateCompletion = true });
        var outputs = LinkSink(block);
        for (var i = 0; i < 500; i++)
        {
            Assert.IsTrue(await upstream.SendAsync(i).Within());
        }

        upstream.Complete();

        await block.Completion.Within();
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 500).ToList(), outputs.ToList());
    }

    [TestMethod]
    public async Task LinkTo_ManyItemsWhereOrderIsPromised_OutputsComeInInputOrder()
    {
        var upstream = new BufferBlock<int>();
        var block = Make(NewWorker(jitter: true), new BlockKnobs { QueueSize = 8, Parallelism = 3, KeepOrder = true });
        upstream.LinkTo(block, new DataflowLinkOptions { PropagateCompletion = true });
        var outputs = LinkSink(block);
        for (var i = 0; i < 500; i++)
        {
            Assert.IsTrue(await upstream.SendAsync(i).Within());
        }

        upstream.Complete();

        await block.Completion.Within();
        CollectionAssert.AreEqual(Enumerable.Range(0, 500).ToList(), outputs.ToList());
    }

    // ---- Rules our blocks are being brought to ------------------------------------------------------------------

    /// <summary>A link's MaxMessages counts the messages its target took, postponed ones included: a full block that
    /// later consumes postponed offers must consume them so that the link sees them.</summary>
    [TestMethod]
    public async Task LinkTo_MaxMessagesIntoAFullBlock_TheBlockTakesExactlyThatMany()
    {
        var worker = NewWorker(held: true);
        var block = Make(worker, new BlockKnobs { QueueSize = 2 });
        var outputs = LinkSink(block, propagateCompletion: false);
        var accepted = FillHeld(block, worker);
        var buffer = new BufferBlock<int>();
        buffer.LinkTo(block, new DataflowLinkOptions { MaxMessages = 3 });
        for (var i = 0; i < 10; i++)
        {
            Assert.IsTrue(buffer.Post(1000 + i));
        }

        worker.Open();

        Bounded.Until(() => outputs.Count >= accepted.Count + 3, "the block to pass what it held and 3 items from the buffer", () => $"{outputs.Count} out, {buffer.Count} left in the buffer");
        Assert.IsFalse(Bounded.TryUntil(() => buffer.Count < 7, Bounded.Watch), $"the block took more than 3 items over a MaxMessages = 3 link; {buffer.Count} left");
        block.Complete();
        await block.Completion.Within();
        Assert.HasCount(accepted.Count + 3, outputs);
        Assert.AreEqual(7, buffer.Count);
    }

    /// <summary>A block faulted by a broken consumer claims no success: its Completion is faulted, so the items it
    /// accepted and could not deliver are not lost silently.</summary>
    [TestMethod]
    public async Task LinkTo_TargetThrowsAfterSomeItems_CompletionEndsFaultedNotRanToCompletion()
    {
        var block = Make(NewWorker(), new BlockKnobs { QueueSize = 16 });
        var target = new OfferThrowingTarget<int>(acceptFirst: 3);
        block.LinkTo(target, new DataflowLinkOptions { PropagateCompletion = true });
        var posted = 0;
        for (var i = 0; i < 10; i++)
        {
            posted += block.Post(i) ? 1 : 0;
        }

        block.Complete();

        await Assert.ThrowsAsync<Exception>(() => block.Completion.Within());
        Assert.AreEqual(TaskStatus.Faulted, block.Completion.Status, $"{posted} accepted, {target.Accepted.Count} delivered");
        Assert.HasCount(3, target.Accepted);
        CollectionAssert.Contains(block.Completion.Exception!.Flatten().InnerExceptions.ToList(), target.Error);
    }

    /// <summary>Once its Completion is faulted (here by a target that threw), a block declines for good.</summary>
    [TestMethod]
    public async Task Post_AfterATargetThrewAndCompletionFaulted_DeclinesPermanently()
    {
        var block = Make(NewWorker());
        var target = new OfferThrowingTarget<int>(acceptFirst: 0);
        block.LinkTo(target);
        Assert.IsTrue(block.Post(1));
        await Assert.ThrowsAsync<Exception>(() => block.Completion.Within());

        Assert.IsFalse(block.Post(2), "a faulted block accepted an item");
        Assert.AreEqual(DataflowMessageStatus.DecliningPermanently, block.OfferMessage(new DataflowMessageHeader(100), 3, null, consumeToAccept: false));
        Assert.IsFalse(await block.SendAsync(4).Within(), "SendAsync to a faulted block returned true");
    }

    [TestMethod]
    public async Task CancellationToken_Cancelled_PostReturnsFalse()
    {
        using var cancel = new CancellationTokenSource();
        var worker = NewWorker(held: true);
        var block = Make(worker, new BlockKnobs { CancellationToken = cancel.Token });
        Assert.IsTrue(block.Post(SameLaneItem(0)));
        worker.WaitCalls(1);

        await cancel.CancelAsync();

        Assert.IsFalse(block.Post(SameLaneItem(1)), "a cancelled block accepted an item");
        Assert.AreEqual(DataflowMessageStatus.DecliningPermanently, block.OfferMessage(new DataflowMessageHeader(100), SameLaneItem(2), null, consumeToAccept: false));
    }

    [TestMethod]
    public async Task CancellationToken_CancelledWhileACallIsHeld_StartsNoNewWorkerCall()
    {
        using var cancel = new CancellationTokenSource();
        var worker = NewWorker(held: true);
        var block = Make(worker, new BlockKnobs { CancellationToken = cancel.Token });
        Assert.IsTrue(block.Post(SameLaneItem(0)));
        worker.WaitCalls(1);
        for (var i = 1; i <= 3; i++)
        {
            Assert.IsTrue(block.Post(SameLaneItem(i)));
        }

        await cancel.CancelAsync();
        worker.Open();

        await SettledAsync(block.Completion);
        Assert.AreEqual(1, worker.Calls, "a worker call started after the block was cancelled");
    }

    [TestMethod]
    public async Task CancellationToken_CancelledWhileACallIsHeld_CompletionEndsCanceledOnceItReturns()
    {
        using var cancel = new CancellationTokenSource();
        var worker = NewWorker(held: true);
        var block = Make(worker, new BlockKnobs { CancellationToken = cancel.Token });
        Assert.IsTrue(block.Post(SameLaneItem(0)));
        Assert.IsTrue(block.Post(SameLaneItem(1)));
        worker.WaitCalls(1);

        await cancel.CancelAsync();

        Assert.IsFalse(block.Completion.IsCompleted, "Completion ended while a call was in progress");
        worker.Open();
        await SettledAsync(block.Completion);
        Assert.AreEqual(TaskStatus.Canceled, block.Completion.Status);
    }

    [TestMethod]
    public async Task CancellationToken_AlreadyCancelled_CompletionEndsCanceledAndNothingIsAccepted()
    {
        var worker = NewWorker();
        var block = Make(worker, new BlockKnobs { CancellationToken = new CancellationToken(canceled: true) });

        Assert.IsFalse(block.Post(1), "a cancelled block accepted an item");
        await SettledAsync(block.Completion);
        Assert.AreEqual(TaskStatus.Canceled, block.Completion.Status);
        Assert.AreEqual(0, worker.Calls);
    }

    /// <summary>Each stage takes items while fewer than QueueSize wait in it; items in calls in progress do not
    /// count. The control holds BoundedCapacity items in all (calls in progress included), which documents the
    /// difference.</summary>
    [TestMethod]
    public async Task Post_WorkerHeldAndNothingReceived_AcceptsWhatTheBlockPromises()
    {
        const int QueueSize = 2;
        var held = FillHeldBlock(QueueSize);

        var accepted = held.Accepted + Fill(held.Block, 100).Count;

        // The worker stays held, so a block that is really full stays full: watch for a later acceptance (an
        // item moved on inside the block after Post declined, making room the rule does not allow).
        var late = 0;
        Bounded.TryUntil(
            () =>
            {
                late += held.Block.Post(1000 + late) ? 1 : 0;
                return late >= FillLimit;
            },
            Bounded.Watch);

        var (min, max) = FullBlockHolds(QueueSize);
        var rule = min == max ? $"{min}" : $"{min} to {max}";
        Assert.IsTrue(accepted >= min && accepted <= max, $"a full block with QueueSize {QueueSize} accepted {accepted} items before Post declined; the rule says {rule}");
        Assert.IsLessThanOrEqualTo(max, accepted + late, $"a full block with QueueSize {QueueSize} accepted {accepted} items before Post declined, then {late} more while its worker stayed held; the rule says {rule}");
        if (held.Release is { } release)
        {
            release();
            held.Block.Complete();
            Assert.HasCount(accepted + late, await DrainAsync(held.Block), "an accepted item was lost");
        }
    }

    /// <summary>A worker's own OperationCanceledException (the block is not being cancelled) fails that item only,
    /// as in a TransformBlock, under every error policy, FailFast included.</summary>
    [TestMethod]
    public async Task Post_WorkerThrowsOperationCanceledUnderFailFast_DropsThatItemOnlyAndCompletes()
    {
        var worker = NewWorker(throws: x => x == 3 ? new OperationCanceledException() : null);
        var probe = new Probe();
        var block = Make(worker, new BlockKnobs { ErrorPolicy = ErrorPolicy.FailFast, Probe = probe });
        var outputs = LinkSink(block);
        for (var i = 1; i <= 5; i++)
        {
            Assert.IsTrue(await block.SendAsync(i).Within());
        }

        block.Complete();

        await SettledAsync(block.Completion);
        Assert.AreEqual(TaskStatus.RanToCompletion, block.Completion.Status, block.Completion.Exception?.ToString());
        CollectionAssert.AreEquivalent(new[] { 1, 2, 4, 5 }, outputs.ToList());
        if (CountsFailures)
        {
            Assert.AreEqual(1, JobQueue.Stat(probe).Stages.Single().Failed);
        }
    }

    // ---- Plumbing ------------------------------------------------------------------------------------------------

    private protected static IReceivableSourceBlock<int> Receivable(ISourceBlock<int> block)
    {
        var receivable = block as IReceivableSourceBlock<int>;
        Assert.IsNotNull(receivable, "the block is not an IReceivableSourceBlock, so TryReceive is not available on it");
        return receivable;
    }

    /// <summary>Waits (bounded) for a task to end, whatever its outcome.</summary>
    private protected static async Task SettledAsync(Task task)
    {
        var ended = await Task.WhenAny(task, Task.Delay(Bounded.Limit)).ConfigureAwait(false);
        Assert.AreSame(task, ended, $"the block's Completion did not end within {Bounded.Limit.TotalSeconds} s");
    }

    /// <summary>Posts 1, 2, ... from <paramref name="first"/> until <c>Post</c> declines; returns the accepted items.</summary>
    private protected static List<int> Fill(ITargetBlock<int> block, int first)
    {
        var accepted = new List<int>();
        for (var item = first; block.Post(item); item++)
        {
            accepted.Add(item);
            Assert.IsLessThan(FillLimit, accepted.Count, "the block never declined: it is not bounded");
        }

        return accepted;
    }

    /// <summary>Receives every output until the block has no more, bounded.</summary>
    private protected static async Task<List<int>> DrainAsync(ISourceBlock<int> block)
    {
        var items = new List<int>();
        while (await block.OutputAvailableAsync().Within().ConfigureAwait(false))
        {
            items.Add(await block.ReceiveAsync(Bounded.Limit).ConfigureAwait(false));
        }

        return items;
    }

    /// <summary>Links an unbounded collector to the block and returns what it collects: once the block's Completion
    /// ends, everything it delivered is there.</summary>
    private protected static ConcurrentQueue<int> LinkSink(ISourceBlock<int> block, bool propagateCompletion = true)
    {
        var sink = new CollectingTarget<int>();
        block.LinkTo(sink, new DataflowLinkOptions { PropagateCompletion = propagateCompletion });
        return sink.Items;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference LinkAndUnlink(ISourceBlock<int> block)
    {
        var target = new BufferBlock<int>();
        block.LinkTo(target, new DataflowLinkOptions { PropagateCompletion = true }).Dispose();
        return new WeakReference(target);
    }

    private protected GatedWorker NewWorker(bool held = false, bool jitter = false, Func<int, Exception?>? throws = null)
    {
        var worker = new GatedWorker(held) { Jitter = jitter, Throws = throws };
        _workers.Add(worker);
        return worker;
    }

    private protected IPropagatorBlock<int, int> Make(GatedWorker worker, BlockKnobs? knobs = null)
    {
        var block = Create(worker, knobs ?? new BlockKnobs());
        _blocks.Add(block);
        return block;
    }

    private protected void Track(IDataflowBlock block) => _blocks.Add(block);

    /// <summary>With the worker held, posts a first item (which reaches the worker) then more until the block
    /// declines; returns every accepted item.</summary>
    private List<int> FillHeld(IPropagatorBlock<int, int> block, GatedWorker worker)
    {
        Assert.IsTrue(block.Post(SameLaneItem(0)));
        worker.WaitCalls(1);

        // Items of the held call's lane only: a partitioned block's other partitions would start items of their own
        // (and make room) at a moment of their choosing, so the block would not stay full.
        var accepted = new List<int> { SameLaneItem(0) };
        for (var i = 100; block.Post(SameLaneItem(i)); i++)
        {
            accepted.Add(SameLaneItem(i));
            Assert.IsLessThan(FillLimit, accepted.Count, "the block never declined: it is not bounded");
        }

        return accepted;
    }

    /// <summary>The knobs a case turns on the block under test; each derived class maps them to its options.</summary>
    private protected sealed record BlockKnobs
    {
        /// <summary>Gets the queue size (our blocks) or bounded capacity (the control).</summary>
        public int QueueSize { get; init; } = 16;

        /// <summary>Gets the number of calls that may run at once, where the block has such a setting.</summary>
        public int Parallelism { get; init; } = 1;

        /// <summary>Gets whether outputs must leave in input order, where the block has such a setting.</summary>
        public bool KeepOrder { get; init; }

        /// <summary>Gets the error policy, where the block has one.</summary>
        public ErrorPolicy? ErrorPolicy { get; init; }

        /// <summary>Gets the probe to read statistics from, where the block has one.</summary>
        public Probe? Probe { get; init; }

        /// <summary>Gets the block's cancellation token.</summary>
        public CancellationToken CancellationToken { get; init; }
    }

    /// <summary>A block held full: the items accepted so far, and how to let its worker go (null when it cannot
    /// be let go, so the case does not drain it).</summary>
    private protected sealed record HeldBlock(IPropagatorBlock<int, int> Block, int Accepted, Action? Release);
}
