using System.Collections.Concurrent;
using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Blocks;

[TestClass]
public sealed class PartBlockTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [TestMethod]
    public async Task CreatePartitionedBlock_LinkedInAGraph_KeepsPerKeyOrderAndInputOrder()
    {
        var seen = new ConcurrentDictionary<int, ConcurrentQueue<int>>();
        var probe = new Probe();
        var block = JobQueue.CreatePartitionedBlock(
            (int x) =>
            {
                seen.GetOrAdd(x % 3, _ => new ConcurrentQueue<int>()).Enqueue(x);
                return x * 10;
            },
            partitions: 3,
            dispatcher: x => x,
            new JobOptions { Probe = probe });
        var results = new List<int>();
        var sink = new ActionBlock<int>(results.Add);
        block.LinkTo(sink, new DataflowLinkOptions { PropagateCompletion = true });

        for (var i = 0; i < 300; i++)
        {
            Assert.IsTrue(await block.SendAsync(i));
        }

        block.Complete();
        await sink.Completion.WaitAsync(Bound);

        CollectionAssert.AreEqual(Enumerable.Range(0, 300).Select(i => i * 10).ToList(), results);
        foreach (var (key, items) in seen)
        {
            CollectionAssert.AreEqual(Enumerable.Range(0, 300).Where(i => i % 3 == key).ToList(), items.ToList());
        }

        var stage = JobQueue.Stat(probe).Stages.Single();
        Assert.AreEqual(3, stage.WorkerCount);
        Assert.HasCount(3, stage.Dispatcher!);
    }

    [TestMethod]
    [DataRow(false, DisplayName = "sync worker")]
    [DataRow(true, DisplayName = "async worker")]
    public async Task CreatePartitionedBlock_QueueSizeBelowThePartitionCount_EveryPartitionRunsAtOnce(bool asyncWorker)
    {
        // As jobq's partition workers each hold a result while the next queue is full, each partition may have a call in
        // progress whatever the queue size: a small QueueSize must not cap how many partitions run.
        using var gate = new Gate();
        var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = 0;
        var options = new JobOptions { QueueSize = 1 };
        var block = asyncWorker
            ? JobQueue.CreatePartitionedBlock(
                async (int x, CancellationToken ct) =>
                {
                    Interlocked.Increment(ref entered);
                    await released.Task.WaitAsync(ct);
                    return x;
                },
                partitions: 4,
                dispatcher: x => x,
                options)
            : JobQueue.CreatePartitionedBlock(
                (int x) =>
                {
                    Interlocked.Increment(ref entered);
                    gate.Pass();
                    return x;
                },
                partitions: 4,
                dispatcher: x => x,
                options);
        try
        {
            var sends = Enumerable.Range(0, 4).Select(i => block.SendAsync(i)).ToArray();

            Bounded.Until(() => Volatile.Read(ref entered) == 4, "a call in progress in each of the 4 partitions");
            gate.Open();
            released.TrySetResult();
            await Task.WhenAll(sends).WaitAsync(Bound);
            block.Complete();
            var outputs = new List<int>();
            var sink = new ActionBlock<int>(outputs.Add);
            block.LinkTo(sink, new DataflowLinkOptions { PropagateCompletion = true });
            await sink.Completion.WaitAsync(Bound);
            CollectionAssert.AreEqual(new[] { 0, 1, 2, 3 }, outputs);
        }
        finally
        {
            gate.Open();
            released.TrySetResult();
        }
    }

    [TestMethod]
    public async Task CreatePartitionedBlock_FaultAfterCompleteWithItemsRoutedButNotStarted_DropsThemAndCompletes()
    {
        // A built-in block drops its waiting input on a fault that follows Complete; a partitioned block's waiting input
        // includes the items its router has already sent to a partition that has not started them.
        using var gate = new Gate();
        var calls = 0;
        var probe = new Probe();
        var block = JobQueue.CreatePartitionedBlock(
            (int x) =>
            {
                Interlocked.Increment(ref calls);
                gate.Pass();
                return x;
            },
            partitions: 2,
            dispatcher: _ => 0,
            new JobOptions { Probe = probe, QueueSize = 8 });
        for (var i = 0; i < 5; i++)
        {
            Assert.IsTrue(block.Post(i));
        }

        Bounded.Until(
            () => gate.Arrivals == 1 && JobQueue.Stat(probe).Stages[0].Dispatcher![0].Input.Size == 4,
            "the first call is held and the other 4 items wait in its partition");

        block.Complete();
        block.Fault(new InvalidOperationException("late"));
        var outputs = new List<int>();
        block.LinkTo(new ActionBlock<int>(outputs.Add), new DataflowLinkOptions { PropagateCompletion = true });
        gate.Open();
        await block.Completion.WaitAsync(Bound);

        Assert.AreEqual(TaskStatus.RanToCompletion, block.Completion.Status);
        Assert.AreEqual(1, Volatile.Read(ref calls), "a call started for an item that was waiting when the fault came");
        var stage = JobQueue.Stat(probe).Stages[0];
        Assert.AreEqual((1L, 1L, 0), (stage.In, stage.Out, stage.Dispatcher![0].Input.Size));
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(-3)]
    [DataRow(JobOptions.MaxThreads + 1)]
    public void CreatePartitionedBlock_PartitionsOutOfRange_ThrowsNamingPartitions(int partitions)
    {
        Action[] calls =
        [
            () => JobQueue.CreatePartitionedBlock((int x) => x, partitions, x => x),
            () => JobQueue.CreatePartitionedBlock((int x, CancellationToken _) => Task.FromResult(x), partitions, x => x),
        ];

        foreach (var call in calls)
        {
            var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(call);
            Assert.AreEqual("partitions", ex.ParamName);
            Assert.AreEqual(partitions, ex.ActualValue);
            Assert.Contains($"partitions must be from 1 to {JobOptions.MaxThreads}", ex.Message);
        }
    }

    [TestMethod]
    public void CreatePartitionedBlock_WorkerReturningATaskOrWorkerResult_ThrowsArgumentNamingTheFormsThatWork()
    {
        static async ValueTask<int> Add1Async(int x)
        {
            await Task.Yield();
            return x + 1;
        }

        Action[] calls =
        [
            () => JobQueue.CreatePartitionedBlock(async (int x) => { await Task.Yield(); return x; }, 2, x => x),
            () => JobQueue.CreatePartitionedBlock<int, ValueTask<int>>(Add1Async, 2, x => x),
            () => JobQueue.CreatePartitionedBlock((int x) => x % 2 == 0 ? JobQueue.EmptyRst : new WorkerResult<int>(x), 2, x => x),
            () => JobQueue.CreatePartitionedBlock((int x) => Task.Delay(1), 2, x => x),
        ];

        foreach (var call in calls)
        {
            var ex = Assert.ThrowsExactly<ArgumentException>(call);
            Assert.AreEqual("worker", ex.ParamName);
            Assert.Contains("CreatePartitionedBlock: the worker's output type is ", ex.Message);
            Assert.Contains("Func<Int32, CancellationToken, Task<T>>", ex.Message);
            Assert.Contains("CreateBlock(Workers.Of<Int32>().Then(worker, partitions, dispatcher))", ex.Message);
        }
    }

    [TestMethod]
    public async Task CreateBlock_PartitionedStageOfAnAsyncWorkerWithoutToken_AwaitsEachCall()
    {
        // The form CreatePartitionedBlock's refusal points to.
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(async x => { await Task.Yield(); return x * 10; }, 3, x => x));
        var output = new CollectingTarget<int>();
        block.LinkTo(output, new DataflowLinkOptions { PropagateCompletion = true });

        for (var i = 0; i < 30; i++)
        {
            Assert.IsTrue(await block.SendAsync(i));
        }

        block.Complete();
        await output.Completion.WaitAsync(Bound);

        CollectionAssert.AreEqual(Enumerable.Range(0, 30).Select(i => i * 10).ToList(), output.Items.ToList());
    }

    [TestMethod]
    public async Task CreateSpeedLimitBlock_FakeClock_ReleasesItemsAtTheirDueTimes()
    {
        var clock = new SignallingTimeProvider();
        var block = JobQueue.CreateSpeedLimitBlock<int>(JobQueue.LimitJobSpeed(10), new JobOptions { TimeProvider = clock });
        for (var i = 0; i < 3; i++)
        {
            Assert.IsTrue(await block.SendAsync(i));
        }

        block.Complete();
        var received = new List<(int Item, TimeSpan At)>();
        for (var i = 0; i < 3; i++)
        {
            // Item i is due (i + 1) × 100 ms after the first one reached the limit: wait for its timer, then let it fire.
            clock.WaitTimerCreated($"item {i}'s wait");
            clock.Advance(TimeSpan.FromMilliseconds(100));
            received.Add((await block.ReceiveAsync(Bound), clock.Elapsed));
        }

        await block.Completion.WaitAsync(Bound);
        CollectionAssert.AreEqual(new[] { 0, 1, 2 }, received.Select(r => r.Item).ToList());
        CollectionAssert.AreEqual(new[] { 100, 200, 300 }, received.Select(r => (int)r.At.TotalMilliseconds).ToList());
    }
}
