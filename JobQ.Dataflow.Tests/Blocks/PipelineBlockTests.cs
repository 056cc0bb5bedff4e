using System.Diagnostics;
using System.Reflection;
using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace JobQ.Dataflow.Tests.Blocks;

[TestClass]
public sealed class PipelineBlockTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task CreateBlock_LinkedBetweenDataflowBlocks_PassesEveryItemInOrder()
    {
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(x => x + 1).Then(x => x * 2, threads: 3), new JobOptions { KeepOrder = true });
        var source = new BufferBlock<int>();
        var results = new List<int>();
        var sink = new ActionBlock<int>(results.Add);
        var link = new DataflowLinkOptions { PropagateCompletion = true };
        source.LinkTo(block, link);
        block.LinkTo(sink, link);

        for (var i = 0; i < 5000; i++)
        {
            await source.SendAsync(i);
        }

        source.Complete();
        await sink.Completion.WaitAsync(Bound);

        CollectionAssert.AreEqual(Enumerable.Range(0, 5000).Select(i => (i + 1) * 2).ToList(), results);
    }

    [TestMethod]
    public async Task CreateBlock_WorkerThrows_LogsAndDropsWithoutFaulting()
    {
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(x => x == 3 ? throw new InvalidOperationException("boom") : x));
        var results = new List<int>();
        var sink = new ActionBlock<int>(results.Add);
        block.LinkTo(sink, new DataflowLinkOptions { PropagateCompletion = true });

        for (var i = 0; i < 6; i++)
        {
            Assert.IsTrue(await block.SendAsync(i));
        }

        block.Complete();
        await sink.Completion.WaitAsync(Bound);

        Assert.IsTrue(block.Completion.IsCompletedSuccessfully);
        CollectionAssert.AreEquivalent(new[] { 0, 1, 2, 4, 5 }, results);
    }

    [TestMethod]
    public async Task CreateBlock_Fault_FaultsCompletionAndStopsWorkers()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(async (int x, CancellationToken ct) =>
        {
            await gate.Task.WaitAsync(ct);
            return x;
        }));
        await block.SendAsync(1);

        block.Fault(new InvalidOperationException("stop"));

        var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => block.Completion.WaitAsync(Bound));
        Assert.AreEqual("stop", error.Message);
        gate.TrySetResult();
    }

    [TestMethod]
    public async Task CreateBlock_FaultAfterComplete_DropsTheWaitingItemsAndCompletesWithoutTheFault()
    {
        // As with Dataflow's own execution blocks (a TransformBlock here gives RanToCompletion, 1 call, 1 output): once
        // the block declines for good, Fault keeps no exception, but drops the items waiting for the first stage.
        const int Items = 100;
        var started = 0;
        var firstCall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var gate = new ManualResetEventSlim();
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(x =>
        {
            Interlocked.Increment(ref started);
            firstCall.TrySetResult();
            gate.Wait(Bound);
            return x;
        }));
        for (var i = 0; i < Items; i++)
        {
            Assert.IsTrue(await block.SendAsync(i).WaitAsync(Bound));
        }

        await firstCall.Task.WaitAsync(Bound);
        block.Complete();
        block.Fault(new InvalidOperationException("stop"));
        gate.Set();
        var outputs = new List<int>();
        var sink = new ActionBlock<int>(outputs.Add);
        block.LinkTo(sink, new DataflowLinkOptions { PropagateCompletion = true });

        await sink.Completion.WaitAsync(Bound);
        Assert.AreEqual(TaskStatus.RanToCompletion, block.Completion.Status);
        Assert.IsLessThanOrEqualTo(2, Volatile.Read(ref started), "Only the call in progress, and a run the stage had taken ahead, ran.");
        Assert.HasCount(Volatile.Read(ref started), outputs, "An output of a call that ran was lost.");
        CollectionAssert.AreEqual(Enumerable.Range(0, outputs.Count).ToList(), outputs);
    }

    [TestMethod]
    public void ToString_NamedPipeline_ShowsTheNameAndTheCompletionId()
    {
        // As Dataflow's blocks show "TransformBlock`2 Id=7" in logs and the debugger.
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(x => x), new JobOptions { Name = "orders" });

        Assert.AreEqual($"JobQ pipeline 'orders' Id={block.Completion.Id}", block.ToString());
        block.Complete();
    }

    [TestMethod]
    public async Task DebuggerView_BlockWithOutputsWaiting_ShowsStatsOutputCountTargetsAndCompletion()
    {
        // As Dataflow's blocks show their queues in the debugger: the proxy the block's DebuggerTypeProxy names.
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(x => x * 10, name: "times10"));
        var target = new PostponingTarget<int>();
        using var link = block.LinkTo(target);
        Assert.IsTrue(block.Post(1));
        Assert.IsTrue(block.Post(2));
        block.Complete();
        var proxyType = block.GetType().GetCustomAttribute<DebuggerTypeProxyAttribute>()!.ProxyTypeName;
        var view = Activator.CreateInstance(Type.GetType(proxyType)!.MakeGenericType(typeof(int), typeof(int)), block)!;
        Bounded.Until(() => (int)view.GetType().GetProperty("OutputCount")!.GetValue(view)! == 2, "both outputs to wait at the tail");

        var stats = (JobStats)view.GetType().GetProperty("Stats")!.GetValue(view)!;
        CollectionAssert.AreEqual(new ITargetBlock<int>[] { target }, ((IEnumerable<ITargetBlock<int>>)view.GetType().GetProperty("LinkedTargets")!.GetValue(view)!).ToArray());
        Assert.AreSame(block.Completion, view.GetType().GetProperty("Completion")!.GetValue(view));
        Assert.AreEqual("times10", stats.Stages[0].Name);
        Assert.AreEqual(2, stats.Out);
        Assert.IsTrue(((IReceivableSourceBlock<int>)block).TryReceiveAll(out _));
        await block.Completion.WaitAsync(Bound);
    }

    [TestMethod]
    public void DebuggerDisplay_Link_NamesTheBlockAndTheTarget()
    {
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(x => x), new JobOptions { Name = "orders" });
        var target = new BufferBlock<int>();

        using var link = block.LinkTo(target);

        var display = link.GetType().GetCustomAttribute<DebuggerDisplayAttribute>();
        Assert.IsNotNull(display, "the link has no DebuggerDisplay");
        Assert.AreEqual($"JobQ pipeline 'orders' Id={block.Completion.Id} -> {target}", link.ToString());
        block.Complete();
    }

    [TestMethod]
    public async Task CreateBlock_FaultRacesTheCompletionOfALinkedSource_NeverDeadlocks()
    {
        // A fault after the completion drops what waits at the head while the head's buffer may be offering to the
        // first stage, whose door then asks the head for more: the two must not wait on each other's locks.
        static IEnumerable<int> Nothing(int x)
        {
            Thread.Yield();
            yield break;
        }

        for (var iteration = 0; iteration < 300; iteration++)
        {
            var block = JobQueue.CreateBlock(
                Workers.Of<int>().ThenMany(Nothing, threads: 4),
                new JobOptions { KeepOrder = true, QueueSize = 12, Logger = NullLogger.Instance });
            var source = new BufferBlock<int>();
            source.LinkTo(block, new DataflowLinkOptions { PropagateCompletion = true });
            block.LinkTo(DataflowBlock.NullTarget<int>());
            var fault = Task.Run(() => block.Fault(new InvalidOperationException("stop")));
            for (var i = 0; i < 11; i++)
            {
                source.Post(i);
            }

            source.Complete();
            await fault.WaitAsync(Bound);
            var ended = await Task.WhenAny(block.Completion, Task.Delay(Bound));
            Assert.AreSame(block.Completion, ended, $"iteration {iteration}: the block never completed");
        }
    }

    [TestMethod]
    public async Task CreateBlock_OutputNotConsumed_PostponesOffersAtCapacity()
    {
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(x => x), new JobOptions { QueueSize = 4 });

        // Output buffer, engine queues and input buffer are all bounded: eventually an offer is declined by Post.
        var accepted = 0;
        for (var i = 0; i < 1000 && block.Post(i); i++)
        {
            accepted++;
        }

        Assert.IsLessThan(1000, accepted);
        block.Complete();
        var received = 0;
        while (await block.OutputAvailableAsync().WaitAsync(Bound))
        {
            await block.ReceiveAsync(Bound);
            received++;
        }

        Assert.AreEqual(accepted, received);
    }

    [TestMethod]
    public async Task CreateBlock_LinkedIntoItselfWithPredicate_LoopsItemsAsAnyDataflowBlockDoes()
    {
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(x => x + 1));
        var done = new BufferBlock<int>();

        // Dataflow accepts a self-link; with a predicate it is a loop that ends.
        using (block.LinkTo(block, x => x < 10))
        {
            block.LinkTo(done);
            Assert.IsTrue(block.Post(0));
            Assert.IsTrue(block.Post(5));

            var results = new List<int> { await done.ReceiveAsync(Bound), await done.ReceiveAsync(Bound) };

            CollectionAssert.AreEqual(new[] { 10, 10 }, results);
        }

        block.Complete();
        await block.Completion.WaitAsync(Bound);
    }

    [TestMethod]
    public async Task CreateBlock_CompleteTwice_DoesNotThrowAndDrains()
    {
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(x => x * 2));
        var results = new List<int>();
        var sink = new ActionBlock<int>(results.Add);
        block.LinkTo(sink, new DataflowLinkOptions { PropagateCompletion = true });
        for (var i = 0; i < 10; i++)
        {
            Assert.IsTrue(await block.SendAsync(i));
        }

        block.Complete();
        block.Complete();

        Assert.IsFalse(block.Post(99), "A completed block declines new items, as every Dataflow block does.");
        await block.Completion.WaitAsync(Bound);
        block.Complete();
        await sink.Completion.WaitAsync(Bound);
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 10).Select(i => i * 2).ToList(), results);
    }

    [TestMethod]
    public async Task CreateBlock_UpstreamFaults_FaultPropagatesThroughToDownstream()
    {
        var upstreamError = new InvalidOperationException("upstream broke");
        var source = new BufferBlock<int>();
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(x => x));
        var sink = new BufferBlock<int>();
        var link = new DataflowLinkOptions { PropagateCompletion = true };
        source.LinkTo(block, link);
        block.LinkTo(sink, link);

        ((IDataflowBlock)source).Fault(upstreamError);

        await Assert.ThrowsAsync<Exception>(() => block.Completion.WaitAsync(Bound));
        await Assert.ThrowsAsync<Exception>(() => sink.Completion.WaitAsync(Bound));
        CollectionAssert.Contains(block.Completion.Exception!.Flatten().InnerExceptions.ToList(), upstreamError);
        CollectionAssert.Contains(sink.Completion.Exception!.Flatten().InnerExceptions.ToList(), upstreamError);
    }

    [TestMethod]
    public async Task CreateBlock_Fault_PropagatesToLinkedDownstream()
    {
        var error = new InvalidOperationException("stop");
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(x => x));
        var sink = new BufferBlock<int>();
        block.LinkTo(sink, new DataflowLinkOptions { PropagateCompletion = true });

        block.Fault(error);

        await Assert.ThrowsAsync<Exception>(() => sink.Completion.WaitAsync(Bound));
        CollectionAssert.Contains(sink.Completion.Exception!.Flatten().InnerExceptions.ToList(), error);
    }

    [TestMethod]
    public async Task CreateBlock_WorkerHeld_LinkedUpstreamKeepsWhatTheBlockCannotHold()
    {
        const int queueSize = 4;
        const int count = 200;
        var gate = new ManualResetEventSlim();
        var probe = new Probe();
        var source = new BufferBlock<int>();
        var block = JobQueue.CreateBlock(
            Workers.Of<int>().Then(x =>
            {
                gate.Wait(Bound);
                return x;
            }),
            new JobOptions { QueueSize = queueSize, Probe = probe, KeepOrder = true });
        var results = new List<int>();
        var sink = new ActionBlock<int>(results.Add);
        var link = new DataflowLinkOptions { PropagateCompletion = true };
        source.LinkTo(block, link);
        block.LinkTo(sink, link);

        try
        {
            for (var i = 0; i < count; i++)
            {
                Assert.IsTrue(source.Post(i));
            }

            // Wait until the held engine is full; everything beyond the block's bounded buffers must still be upstream.
            Assert.IsTrue(SpinWait.SpinUntil(() => JobQueue.Stat(probe).Stages[0].Input.Size == queueSize, Bound));
            Assert.IsGreaterThanOrEqualTo(count - (4 * queueSize), source.Count, "Offers beyond the bounded capacity are postponed, not swallowed.");
        }
        finally
        {
            gate.Set();
        }

        source.Complete();
        await sink.Completion.WaitAsync(Bound);
        CollectionAssert.AreEqual(Enumerable.Range(0, count).ToList(), results);
    }

    [TestMethod]
    public async Task CreateBlock_BoundedDownstreamHeld_WorkerStopsAfterTheBlocksCapacity()
    {
        const int queueSize = 4;
        const int count = 500;
        var probe = new Probe();
        var calls = 0;
        var consumed = 0;
        var maxAhead = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var block = JobQueue.CreateBlock(
            Workers.Of<int>().Then(x =>
            {
                var ahead = Interlocked.Increment(ref calls) - Volatile.Read(ref consumed);
                Atomic.Max(ref maxAhead, ahead);
                return x;
            }),
            new JobOptions { QueueSize = queueSize, Probe = probe });
        var results = new List<int>();
        var sink = new ActionBlock<int>(
            async x =>
            {
                await release.Task.WaitAsync(Bound);
                results.Add(x);
                Interlocked.Increment(ref consumed);
            },
            new ExecutionDataflowBlockOptions { BoundedCapacity = 1 });
        block.LinkTo(sink, new DataflowLinkOptions { PropagateCompletion = true });
        var feed = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
            {
                await block.SendAsync(i);
            }

            block.Complete();
        });

        try
        {
            // The worker stalls (input full, no call in progress) only if the held consumer holds it back.
            Assert.IsTrue(SpinWait.SpinUntil(
                () =>
                {
                    var stage = JobQueue.Stat(probe).Stages[0];
                    return stage.Input.Size == queueSize && stage.Doing == 0 && Volatile.Read(ref calls) < count;
                },
                Bound));
            Assert.IsLessThan(count, Volatile.Read(ref calls));
        }
        finally
        {
            release.TrySetResult();
        }

        await feed.WaitAsync(Bound);
        await sink.Completion.WaitAsync(Bound);
        Assert.HasCount(count, results);

        // Engine queues, pump buffers and the block's bounded output buffer, plus the consumer's one slot.
        Assert.IsLessThanOrEqualTo((5 * queueSize) + 4, Volatile.Read(ref maxAhead));
    }

    [TestMethod]
    public async Task CreateBlock_DeadLetterBlock_GetsFailuresWhileOutputsFlowAndCompletionSucceeds()
    {
        var deadLetters = new BufferBlock<JobFailure>();
        var block = JobQueue.CreateBlock(
            Workers.Of<int>().Then(x => x % 3 == 0 ? throw new InvalidOperationException("third") : x, threads: 2, name: "check"),
            new JobOptions { ErrorPolicy = ErrorPolicy.DeadLetter(deadLetters), KeepOrder = true });
        var results = new List<int>();
        var sink = new ActionBlock<int>(results.Add);
        block.LinkTo(sink, new DataflowLinkOptions { PropagateCompletion = true });

        for (var i = 0; i < 300; i++)
        {
            Assert.IsTrue(await block.SendAsync(i));
        }

        block.Complete();
        await sink.Completion.WaitAsync(Bound);

        Assert.IsTrue(block.Completion.IsCompletedSuccessfully, "Failures the policy handles never fault the block.");
        CollectionAssert.AreEqual(Enumerable.Range(0, 300).Where(x => x % 3 != 0).ToList(), results);
        Assert.IsTrue(deadLetters.TryReceiveAll(out var failures));
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 100).Select(i => (object)(3 * i)).ToList(), failures!.Select(f => f.Item).ToList());
        Assert.IsTrue(failures!.All(f => f.Stage == "check"));
    }
}
