using System.Collections.Concurrent;
using JobQ.Dataflow.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace JobQ.Dataflow.Tests.Pipeline;

/// <summary>
/// The same semantics with items moved in runs and one at a time. A run is at most the queue size shared by the
/// stage's threads (at most 1024): with the default queue of 1024, cheap workers move items in runs of up to 1024; with a
/// queue of 1, every run is a single item, which is per-item messaging. Each test runs both ways and must see the same thing.
/// </summary>
[TestClass]
public sealed class RunLengthTransparencyTests
{
    private const int RunsOfUpTo1024 = JobOptions.DefaultQueueSize;
    private const int RunsOfOne = 1;
    private const int Items = 20_000;

    [TestMethod]
    public void MaxRun_DefaultAndSmallQueue_RunsOfUpTo1024AndOfOne()
    {
        Assert.AreEqual(1024, Internal.RunLength.MaxFor(RunsOfUpTo1024, 1));
        Assert.AreEqual(1, Internal.RunLength.MaxFor(RunsOfOne, 1));
    }

    [TestMethod]
    [DataRow(RunsOfUpTo1024)]
    [DataRow(RunsOfOne)]
    public void Run_KeepOrderCheapStageOnFourThreadsWithUnevenCost_OutputInInputOrder(int queueSize)
    {
        var seen = new List<int>(Items);
        var workers = Workers.Of<int>()
            .Then(x => x % 97 == 0 ? Spin(x) : x, threads: 4)
            .Then((int x) => seen.Add(x));

        var result = JobQueue.Run(Enumerable.Range(0, Items), workers, Options(queueSize, keepOrder: true));

        Assert.IsTrue(result.Completed);
        CollectionAssert.AreEqual(Enumerable.Range(0, Items).ToList(), seen);
    }

    [TestMethod]
    [DataRow(RunsOfUpTo1024)]
    [DataRow(RunsOfOne)]
    public void Run_CheapDispatcherStageWithFourPartitions_EachKeysItemsInInputOrder(int queueSize)
    {
        var byKey = new ConcurrentDictionary<int, List<int>>();
        var workers = Workers.Of<int>()
            .Then(x => x, threads: 4, dispatcher: x => x % 4)
            .Then((int x) => byKey.GetOrAdd(x % 4, _ => []).Add(x));

        var result = JobQueue.Run(Enumerable.Range(0, Items), workers, Options(queueSize));

        Assert.IsTrue(result.Completed);
        for (var key = 0; key < 4; key++)
        {
            CollectionAssert.AreEqual(Enumerable.Range(0, Items).Where(x => x % 4 == key).ToList(), byKey[key], $"key {key}");
        }
    }

    [TestMethod]
    [DataRow(RunsOfUpTo1024)]
    [DataRow(RunsOfOne)]
    public void Run_CheapGeneratorThenDropsThenFailures_EveryItemAccountedForInStats(int queueSize)
    {
        long arrived = 0;
        var workers = Workers.Of<int>()
            .ThenMany(x => new[] { x, -x - 1 }, threads: 2)
            .Then(x => x % 3 == 0 ? JobQueue.EmptyRst : new WorkerResult<int>(x), threads: 3)
            .Then(x => x % 5 == 0 ? throw new InvalidOperationException("five") : x)
            .Then((int _) => arrived++);

        var result = JobQueue.Run(Enumerable.Range(0, Items), workers, Options(queueSize));

        // The generator makes 2 * Items elements; a third of them are dropped; of the rest, the multiples of 5 fail.
        var made = Enumerable.Range(0, Items).SelectMany(x => new[] { x, -x - 1 }).ToList();
        var kept = made.Where(x => x % 3 != 0).ToList();
        var failed = kept.Count(x => x % 5 == 0);
        var stages = result.Stats.Stages;
        Assert.IsTrue(result.Completed);
        Assert.AreEqual(Items, stages[0].Out);
        Assert.AreEqual(made.Count, stages[1].In);
        Assert.AreEqual(made.Count - kept.Count, stages[1].Dropped);
        Assert.AreEqual(kept.Count, stages[2].In);
        Assert.AreEqual(failed, stages[2].Failed);
        Assert.AreEqual(kept.Count - failed, stages[3].Out);
        Assert.AreEqual(kept.Count - failed, arrived);
    }

    [TestMethod]
    [DataRow(RunsOfUpTo1024)]
    [DataRow(RunsOfOne)]
    public async Task RunAsync_TimeoutWhileCallsBlockAmidCheapItems_NoCallStartsAfterTheDeadline(int queueSize)
    {
        // The two blockers lie in different runs (runs hold at most 256 items), so each holds one of the two threads.
        const int Count = 200_000, FirstBlocker = 100_000, SecondBlocker = 150_000;
        var time = new FakeTimeProvider();
        var probe = new Probe();
        using var blocked = new CountdownEvent(2);
        using var release = new ManualResetEventSlim();
        var workers = Workers.Of<int>()
            .Then(x => x)
            .Then(
                x =>
                {
                    if (x is FirstBlocker or SecondBlocker)
                    {
                        blocked.Signal();
                        release.Wait(Bounded.Limit);
                    }

                    return x;
                },
                threads: 2)
            .Then((int _) => { });
        var options = new JobOptions { Timeout = TimeSpan.FromSeconds(5), TimeProvider = time, Probe = probe, QueueSize = queueSize };

        JobStats atReturn;
        try
        {
            var run = JobQueue.RunAsync(Enumerable.Range(0, Count), workers, options);
            Assert.IsTrue(blocked.Wait(Bounded.Limit), "Both blocking calls should start: each thread holds one.");
            Assert.AreEqual(2L, JobQueue.Stat(probe).Stages[1].Doing, "The blocked calls are the calls in progress in their stage.");

            time.Advance(TimeSpan.FromSeconds(5));
            var result = await run.Within();
            atReturn = JobQueue.Stat(probe);

            Assert.IsFalse(result.Completed, "The run timed out while the calls blocked.");
            Assert.AreEqual(2L, atReturn.Stages[1].Doing, "Run returned without waiting for the blocked calls.");
        }
        finally
        {
            release.Set();
        }

        Bounded.Until(() => JobQueue.Stat(probe).Doing == 0, "the blocked calls to finish");
        var end = JobQueue.Stat(probe);
        for (var i = 0; i < end.Stages.Count; i++)
        {
            Assert.AreEqual(atReturn.Stages[i].In, end.Stages[i].In, $"stage {i} started a call after the deadline");
            Assert.AreEqual(end.Stages[i].In, end.Stages[i].Out, $"stage {i}: every started call finished");
        }
    }

    [TestMethod]
    [DataRow(RunsOfUpTo1024)]
    [DataRow(RunsOfOne)]
    public async Task JobManager_CheapItemsThenBlockingOnes_DoingCountsTheCallsInProgress(int queueSize)
    {
        const int Cheap = 10_000;
        using var blocked = new CountdownEvent(3);
        using var release = new ManualResetEventSlim();
        await using var manager = JobManager.Create(
            Workers.Of<int>().Then(
                x =>
                {
                    if (x < 0)
                    {
                        blocked.Signal();
                        release.Wait(Bounded.Limit);
                    }
                },
                threads: 4),
            queueSize: queueSize);

        try
        {
            for (var i = 0; i < Cheap; i++)
            {
                await manager.PutAsync(i).AsTask().Within();
            }

            // Put while the stage has an idle worker, each item goes on at once in a run of its own, so the three block
            // at once. (Put together, two could share a run: a finishing cheap run may still hold a worker's place.)
            Bounded.Until(() => manager.Stat().Stages[0].Out == Cheap, "the cheap items to be processed");
            for (var i = 1; i <= 3; i++)
            {
                await manager.PutAsync(-i).AsTask().Within();
                var started = i;
                Bounded.Until(() => blocked.CurrentCount == 3 - started, $"blocking call {started} to start beside the ones before it");
            }

            Assert.IsTrue(blocked.Wait(Bounded.Limit), "Three blocking calls should run at once on four lanes.");
            Bounded.Until(() => manager.Stat().Stages[0].In == Cheap + 3, "every item to be started");
            Assert.AreEqual(3L, manager.Stat().Stages[0].Doing);
        }
        finally
        {
            release.Set();
        }

        await manager.JoinAsync().Within();
        var stats = manager.Stat().Stages[0];
        Assert.AreEqual(Cheap + 3L, stats.Out);
        Assert.AreEqual(0L, stats.Doing);
    }

    private static JobOptions Options(int queueSize, bool keepOrder = false)
        => new() { QueueSize = queueSize, KeepOrder = keepOrder, Timeout = Bounded.Limit };

    /// <summary>Workload: a few microseconds of CPU, so that some calls finish well after calls on later items.</summary>
    private static int Spin(int x)
    {
        Thread.SpinWait(2_000);
        return x;
    }
}
