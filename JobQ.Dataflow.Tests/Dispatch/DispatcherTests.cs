using System.Collections.Concurrent;
using JobQ.Dataflow.Tests.Support;
using Microsoft.Extensions.Logging;
using Moq;

namespace JobQ.Dataflow.Tests.Dispatch;

/// <summary>
/// Stages with a dispatcher: item goes to partition <c>dispatcher(item) mod n</c> normalised to [0, n); one
/// partition's items are processed one at a time in arrival order; partitions overlap; output in input order.
/// </summary>
[TestClass]
public sealed class DispatcherTests
{
    private static readonly int[] Keys = [0, 1, -1, 2, -2, 3, -3, int.MinValue, int.MaxValue, int.MinValue + 1, 13, -13, 100, -100, 6];

    /// <summary>Python's <c>k % n</c>: never negative.</summary>
    private static int PythonMod(int key, int n) => (int)((((long)key % n) + n) % n);

    [TestMethod]
    [DataRow(2)]
    [DataRow(3)]
    [DataRow(7)]
    public async Task Then_Dispatcher_ItemGoesToPartitionKeyModNNormalised(int n)
    {
        using var gate = new Gate();
        var probe = new Probe();
        var workers = Workers.Of<int>().Then(k => { gate.Pass(); return k; }, threads: n, dispatcher: k => k, name: "route");
        var expectedCounts = new int[n];
        foreach (var key in Keys)
        {
            expectedCounts[PythonMod(key, n)]++;
        }

        var busy = expectedCounts.Count(c => c > 0);
        var run = JobQueue.RunAsync(Keys, workers, new JobOptions { Probe = probe });

        // Each partition holds its first item in the worker; the rest wait in that partition's own queue.
        gate.WaitArrivals(busy);
        Bounded.Until(
            () =>
            {
                var stage = JobQueue.Stat(probe).Stages[0];
                return stage.Doing == busy && Enumerable.Range(0, n).All(p => stage.Dispatcher![p].Input.Size == Math.Max(0, expectedCounts[p] - 1));
            },
            $"partition queue sizes to match key mod {n}: [{string.Join(", ", expectedCounts.Select(c => Math.Max(0, c - 1)))}]");
        gate.Open();
        var result = await run.Within();

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(Keys.Length, result.Stats.Stages[0].Out);
    }

    [TestMethod]
    public async Task Then_Dispatcher_EachPartitionSeesOnlyItsKeysInArrivalOrderOneAtATime()
    {
        const int n = 5;
        var byPartition = new ConcurrentDictionary<int, ConcurrentQueue<int>>();
        var inFlight = new int[n];
        var overlapsWithinPartition = 0;
        var workers = Workers.Of<int>().Then(
            x =>
            {
                var p = PythonMod(x * 7, n);
                if (Interlocked.Increment(ref inFlight[p]) != 1)
                {
                    Interlocked.Increment(ref overlapsWithinPartition);
                }

                byPartition.GetOrAdd(p, _ => new ConcurrentQueue<int>()).Enqueue(x);
                Thread.SpinWait(Random.Shared.Next(0, 2_000)); // workload
                Interlocked.Decrement(ref inFlight[p]);
                return x;
            },
            threads: n,
            dispatcher: x => x * 7);

        await JobQueue.RunAsync(Enumerable.Range(-150, 300), workers).Within();

        Assert.AreEqual(0, overlapsWithinPartition, "a partition must process one item at a time");
        Assert.HasCount(n, byPartition, "every partition received items");
        var seen = new List<int>();
        foreach (var items in byPartition.Values.Select(q => q.ToArray()))
        {
            var partition = PythonMod(items[0] * 7, n);
            Assert.IsTrue(items.All(x => PythonMod(x * 7, n) == partition), "a partition received another partition's key");
            CollectionAssert.AreEqual(items.Order().ToArray(), items, "a partition must see its items in arrival order");
            seen.AddRange(items);
        }

        CollectionAssert.AreEquivalent(Enumerable.Range(-150, 300).ToArray(), seen);
    }

    [TestMethod]
    public async Task Then_DispatcherWithThreeSyncPartitions_PartitionsOverlapInTime()
    {
        using var barrier = new Barrier(3);
        var met = new ConcurrentBag<bool>();
        var workers = Workers.Of<int>().Then(x => { met.Add(barrier.SignalAndWait(TimeSpan.FromSeconds(5))); return x; }, threads: 3, dispatcher: x => x);

        // Keys 0..5: two items per partition, so the barrier must open twice with all three partitions inside.
        var result = await JobQueue.RunAsync(Enumerable.Range(0, 6), workers).Within();

        Assert.IsTrue(result.Completed);
        Assert.HasCount(6, met);
        Assert.IsTrue(met.All(m => m), "all three partitions must be inside their worker at the same time");
    }

    [TestMethod]
    public async Task Then_DispatcherWithAsyncPartitions_PartitionsOverlapInTime()
    {
        const int n = 4;
        var allIn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inside = 0;
        var workers = Workers.Of<int>().Then(
            async x =>
            {
                if (Interlocked.Increment(ref inside) == n)
                {
                    allIn.TrySetResult();
                }

                await allIn.Task.WaitAsync(Bounded.Limit);
                return x;
            },
            threads: n,
            dispatcher: x => x);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, n), workers).Within();

        Assert.AreEqual(0, result.Stats.Stages[0].Failed, "every partition's call must have met the others");
    }

    [TestMethod]
    public async Task Then_DispatcherWithoutKeepOrder_StageOutputInInputOrder()
    {
        var printed = new List<int>();
        var workers = Workers.Of<int>()
            .Then(
                x =>
                {
                    // Partition 0 is much slower than the others, so completion order differs from input order.
                    Thread.SpinWait(x % 4 == 0 ? 10_000 : Random.Shared.Next(0, 1_000)); // workload
                    return x * 3;
                },
                threads: 4,
                dispatcher: x => x)
            .Then(printed.Add);

        await JobQueue.RunAsync(Enumerable.Range(0, 400), workers).Within();

        CollectionAssert.AreEqual(Enumerable.Range(0, 400).Select(x => x * 3).ToArray(), printed);
    }

    [TestMethod]
    public async Task Then_AsyncDispatcherStage_OutputInInputOrder()
    {
        var printed = new List<int>();
        var workers = Workers.Of<int>()
            .Then(
                async x =>
                {
                    await Task.Delay(Random.Shared.Next(0, 3));
                    return -x;
                },
                threads: 3,
                dispatcher: x => x / 2)
            .Then(printed.Add);

        await JobQueue.RunAsync(Enumerable.Range(0, 120), workers).Within();

        CollectionAssert.AreEqual(Enumerable.Range(0, 120).Select(x => -x).ToArray(), printed);
    }

    [TestMethod]
    public async Task ThenMany_GeneratorWithDispatcher_GroupsStayTogetherInInputOrder()
    {
        static IEnumerable<int> Gen(int x)
        {
            for (var k = 0; k < x % 3; k++)
            {
                Thread.SpinWait(Random.Shared.Next(0, 5_000)); // workload
                yield return (x * 10) + k;
            }
        }

        var printed = new List<int>();

        await JobQueue.RunAsync(Enumerable.Range(0, 300), Workers.Of<int>().ThenMany(Gen, threads: 3, dispatcher: x => x).Then(printed.Add)).Within();

        CollectionAssert.AreEqual(Enumerable.Range(0, 300).SelectMany(Gen).ToArray(), printed);
    }

    [TestMethod]
    public async Task Then_DispatcherThrows_ItemDroppedLoggedNothingHangs()
    {
        var failure = new InvalidOperationException("no route");
        var logger = LoggerMock.Create();
        var printed = new List<int>();
        var workers = Workers.Of<int>()
            .Then(x => x + 1, threads: 3, dispatcher: x => x % 10 == 5 ? throw failure : x, name: "routed")
            .Then(printed.Add);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 100), workers, new JobOptions { Logger = logger.Object }).Within();

        Assert.IsTrue(result.Completed);
        CollectionAssert.AreEqual(Enumerable.Range(0, 100).Where(x => x % 10 != 5).Select(x => x + 1).ToArray(), printed);
        logger.VerifyLogged(LogLevel.Error, "routed", failure, Times.Exactly(10));
        // A failed dispatcher call is a call of the stage: every item it received is accounted for.
        Assert.AreEqual(10, result.Stats.Stages[0].Failed);
        Assert.AreEqual(100, result.Stats.Stages[0].In);
        Assert.AreEqual(100, result.Stats.Stages[0].Out);
    }

    [TestMethod]
    public async Task Then_DispatcherThrowsForEveryItem_RunCompletesWithNothingPassedOn()
    {
        var printed = new ConcurrentBag<int>();
        var workers = Workers.Of<int>().Then(x => x, threads: 2, dispatcher: _ => throw new InvalidOperationException("always")).Then(printed.Add);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 500), workers, new JobOptions { QueueSize = 8 }).Within();

        Assert.IsTrue(result.Completed);
        Assert.IsEmpty(printed);
        Assert.AreEqual(500, result.Stats.Stages[0].Failed);
    }

    [TestMethod]
    public async Task Then_WorkerThrowsOrDropsInsidePartition_OutputStaysInOrderWithoutGaps()
    {
        var logger = LoggerMock.Create();
        var printed = new List<int>();
        var workers = Workers.Of<int>()
            .Then(
                x => x % 5 == 0 ? throw new InvalidOperationException("five") : x % 5 == 1 ? JobQueue.EmptyRst : new WorkerResult<int>(x),
                threads: 3,
                dispatcher: x => x,
                name: "partitioned")
            .Then(printed.Add);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 100), workers, new JobOptions { Logger = logger.Object }).Within();

        CollectionAssert.AreEqual(Enumerable.Range(0, 100).Where(x => x % 5 > 1).ToArray(), printed);
        Assert.AreEqual(20, result.Stats.Stages[0].Failed);
        Assert.AreEqual(20, result.Stats.Stages[0].Dropped);
        logger.VerifyLogged(LogLevel.Error, "partitioned", Times.Exactly(20));
    }

    [TestMethod]
    public async Task Then_DispatcherStageWithSmallQueues_AllItemsThroughInOrder()
    {
        // Small queues make the router, the partitions and the merger wait on each other often.
        var printed = new List<int>();
        var workers = Workers.Of<int>().Then(x => x, threads: 4, dispatcher: x => x / 3).Then(x => x, threads: 2).Then(printed.Add);

        await JobQueue.RunAsync(Enumerable.Range(0, 2000), workers, new JobOptions { QueueSize = 2, KeepOrder = true }).Within();

        CollectionAssert.AreEqual(Enumerable.Range(0, 2000).ToArray(), printed);
    }

    [TestMethod]
    public async Task Then_DispatcherPartitionHeldAtTimeout_RunReturnsTimedOut()
    {
        using var gate = new Gate();
        var clock = new SignallingTimeProvider();
        var printed = new ConcurrentQueue<int>();
        var probe = new Probe();
        var workers = Workers.Of<int>().Then(x => { gate.Pass(); return x; }, threads: 2, dispatcher: x => x).Then(printed.Enqueue);

        var run = JobQueue.RunAsync(Enumerable.Range(0, 10), workers, new JobOptions { Timeout = TimeSpan.FromSeconds(1), TimeProvider = clock, Probe = probe });
        gate.WaitArrivals(2);
        clock.Advance(TimeSpan.FromSeconds(1));
        var result = await run.Within();
        gate.Open();
        Bounded.Until(() => JobQueue.Stat(probe).Doing == 0, "the held calls to return");

        Assert.IsTrue(result.TimedOut);
        Assert.AreEqual(2, gate.Arrivals);
        Assert.IsEmpty(printed);
    }

    /// <summary>
    /// A put gathered into a run waits only while the first stage is busy. A dispatcher's routed items wait behind
    /// their partition's held call inside the stage; they must not make the stage look busy to the put, or the item
    /// would stay gathered until the next put or the join, and its partition would not start it.
    /// </summary>
    [TestMethod]
    public async Task Put_ItemWhileRoutedItemsWaitBehindAHeldPartition_GoesThroughWithoutJoin()
    {
        using var release = new ManualResetEventSlim();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var seen = new ConcurrentQueue<int>();
        var called = new ConcurrentQueue<int>();
        var probe = new Probe();
        var workers = Workers.Of<int>()
            .Then(x => Hold(x, called, entered, release), threads: 2, dispatcher: x => x)
            .Then(seen.Enqueue);
        using var manager = JobManager.Create(workers, new JobOptions { Probe = probe });
        try
        {
            // Cheap calls first, so that the runs into the stage grow beyond one item.
            const int WarmUp = 20_000;
            for (var i = 1; i <= WarmUp; i++)
            {
                manager.Put(2 * i);
            }

            Bounded.Until(() => JobQueue.Stat(probe).Stages[1].Out == WarmUp, "the warm-up items to go through");
            manager.Put(0);
            await entered.Task.Within();
            manager.Put(-2);
            manager.Put(-4);

            manager.Put(1);

            // Its output then waits for the held item's: the stage keeps input order.
            Bounded.Until(() => called.Contains(1), "the free partition to start the item", () => $"called {called.Count}, stage 0: {JobQueue.Stat(probe).Stages[0].Input.Size} waiting");
            release.Set();
            Assert.IsTrue(await manager.JoinAsync(Bounded.Limit));
            Assert.HasCount(WarmUp + 4, seen);
        }
        finally
        {
            release.Set();
        }
    }

    /// <summary>
    /// The last stage of a run throws its outputs away, so nothing waits to be merged back in order: an async
    /// dispatcher stage there must hold no finished item, or its memory would grow with the input.
    /// </summary>
    [TestMethod]
    public async Task Then_AsyncDispatcherAsLastStage_HoldsNoFinishedItemAfterTheCalls()
    {
        const int Items = 200;
        var probe = new Probe();
        var workers = Workers.Of<int>().Then(
            async (int x, CancellationToken _) =>
            {
                await Task.Yield();
                return x;
            },
            threads: 3,
            dispatcher: x => x);
        using var manager = JobManager.Create(workers, new JobOptions { Probe = probe });
        for (var i = 0; i < Items; i++)
        {
            await manager.PutAsync(i).AsTask().Within();
        }

        Bounded.Until(() => JobQueue.Stat(probe).Stages[0].Out == Items, "every call to end");
        var stage = JobQueue.Stat(probe).Stages[0];

        Assert.AreEqual(0, stage.Coordinator!.Value.Size, "items held for the merge");
        Assert.IsTrue(stage.Dispatcher!.All(p => p.Output.Size == 0), "a partition's output queue holds finished items");
        Assert.IsTrue(await manager.JoinAsync(Bounded.Limit));
    }

    private static int Hold(int x, ConcurrentQueue<int> called, TaskCompletionSource entered, ManualResetEventSlim release)
    {
        called.Enqueue(x);
        if (x == 0)
        {
            entered.TrySetResult();
            release.Wait(Bounded.Limit * 2);
        }

        return x;
    }
}
