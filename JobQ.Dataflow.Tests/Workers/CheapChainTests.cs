using System.Collections.Concurrent;
using JobQ.Dataflow.Tests.Support;
using Microsoft.Extensions.Time.Testing;

// Not "...Tests.Workers": a namespace of that name would hide the JobQ.Dataflow.Workers class from every test.
namespace JobQ.Dataflow.Tests.StageWorkers;

/// <summary>
/// Cheap workers over many items: the engine then moves items in runs of up to 256, split across lanes, and passes
/// outputs on at the end of a run or when the next stage waits. These tests pin down that nothing a user can observe
/// changes: thread counts, order, counters, failures, timeouts, resizing.
/// </summary>
[TestClass]
public sealed class CheapChainTests
{
    private const int Items = 200_000;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [TestMethod]
    public void Run_CheapOneThreadStageAfterFourThreads_NeverRunsTwoCallsAtOnce()
    {
        int inCall = 0, most = 0;
        long count = 0;
        var workers = Workers.Of<int>()
            .Then(x => x * 2, threads: 4)
            .Then((int x) =>
            {
                var now = Interlocked.Increment(ref inCall);
                if (now > Volatile.Read(ref most))
                {
                    Volatile.Write(ref most, now);
                }

                count++;
                Interlocked.Decrement(ref inCall);
            });

        var result = JobQueue.Run(Enumerable.Range(0, Items), workers, new JobOptions { Timeout = Bound });

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(1, most);
        Assert.AreEqual(Items, count);
    }

    [TestMethod]
    public void Run_CheapOneThreadChain_LastStageSeesInputOrder()
    {
        var seen = new List<int>(Items);
        var workers = Workers.Of<int>().Then(x => x + 1).Then(x => x - 1).Then((int x) => seen.Add(x));

        var result = JobQueue.Run(Enumerable.Range(0, Items), workers, new JobOptions { Timeout = Bound });

        Assert.IsTrue(result.Completed);
        CollectionAssert.AreEqual(Enumerable.Range(0, Items).ToList(), seen);
    }

    [TestMethod]
    public void Run_KeepOrderCheapMiddleStageWithFourThreads_LastStageSeesInputOrder()
    {
        var seen = new List<int>(Items);
        var workers = Workers.Of<int>().Then(x => x + 1).Then(x => x - 1, threads: 4).Then((int x) => seen.Add(x));

        var result = JobQueue.Run(Enumerable.Range(0, Items), workers, new JobOptions { KeepOrder = true, Timeout = Bound });

        Assert.IsTrue(result.Completed);
        CollectionAssert.AreEqual(Enumerable.Range(0, Items).ToList(), seen);
    }

    [TestMethod]
    public void Run_CheapStageFailsSomeItems_FailuresCountedAndEveryOtherItemArrives()
    {
        var probe = new Probe();
        long arrived = 0;
        var workers = Workers.Of<int>()
            .Then(x => x)
            .Then(x => x % 1000 == 0 ? throw new InvalidOperationException($"item {x}") : x)
            .Then((int x) => { arrived++; });

        var result = JobQueue.Run(Enumerable.Range(0, Items), workers, new JobOptions { Probe = probe, ErrorPolicy = ErrorPolicy.Handle(_ => { }), Timeout = Bound });

        var stats = JobQueue.Stat(probe);
        Assert.IsTrue(result.Completed);
        Assert.AreEqual(Items / 1000L, stats.Stages[1].Failed);
        Assert.AreEqual((long)Items, stats.Stages[1].In);
        Assert.AreEqual(Items - (Items / 1000L), arrived);
        Assert.AreEqual(Items - (Items / 1000L), stats.Stages[2].Out);
    }

    [TestMethod]
    public async Task RunAsync_TimeoutWhileOneCallBlocksAmidCheapItems_ReturnsWithThatCallInProgress()
    {
        const int Count = 1_000_000, Blocker = 900_000;
        var time = new FakeTimeProvider();
        var probe = new Probe();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var release = new ManualResetEventSlim();
        var workers = Workers.Of<int>()
            .Then(x => x)
            .Then(x =>
            {
                if (x == Blocker)
                {
                    entered.TrySetResult();
                    release.Wait(Bound);
                }

                return x;
            })
            .Then((int _) => { });
        var options = new JobOptions { Timeout = TimeSpan.FromSeconds(5), TimeProvider = time, Probe = probe };

        try
        {
            var run = JobQueue.RunAsync(Enumerable.Range(0, Count), workers, options);
            await entered.Task.WaitAsync(Bound);
            Assert.AreEqual(1L, JobQueue.Stat(probe).Stages[1].Doing, "The blocked call is the one call in progress in its stage.");

            time.Advance(TimeSpan.FromSeconds(5));
            var result = await run.WaitAsync(Bound);

            Assert.IsFalse(result.Completed, "The run timed out while the call blocked.");
            Assert.AreEqual(1L, JobQueue.Stat(probe).Stages[1].Doing, "Run returned without waiting for the blocked call.");
        }
        finally
        {
            release.Set();
        }

        Assert.IsTrue(SpinWait.SpinUntil(() => JobQueue.Stat(probe).Doing == 0, Bound), "The blocked call never finished.");
        var end = JobQueue.Stat(probe);
        Assert.AreEqual(end.Stages[1].In, end.Stages[1].Out, "Every started call of the blocking stage was counted as finished.");
    }

    [TestMethod]
    public async Task JobManager_ResizeCheapMiddleStageWhileItemsFlow_EveryItemArrivesOnce()
    {
        var seen = new int[Items];
        Func<int, int> middle = x => x;
        using var manager = JobManager.Create(Workers.Of<int>().Then(x => x).Then(middle, threads: 4).Then((int x) => { seen[x]++; }));

        var putter = Task.Run(() =>
        {
            for (var i = 0; i < Items; i++)
            {
                manager.Put(i);
            }
        });
        foreach (var threads in new[] { 1, 3, 2, 4, 1 })
        {
            manager.SetThreadNum(middle, threads);
            await Task.Yield();
        }

        await putter.WaitAsync(Bound);
        Assert.IsTrue(await manager.JoinAsync(Bound));

        Assert.AreEqual(0, seen.Count(c => c != 1), "Some items arrived twice or never.");
    }

    [TestMethod]
    public async Task RunAsync_CallBlocksAmidCheapItems_RunsNotHeldByItFlowOnTheOtherThread()
    {
        const int Count = 100_000, Blocker = 50_000;
        var probe = new Probe();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var release = new ManualResetEventSlim();
        var workers = Workers.Of<int>().Then(x => BlockOn(x, Blocker, entered, release), threads: 2).Then((int _) => { });

        try
        {
            var run = JobQueue.RunAsync(Enumerable.Range(0, Count), workers, new JobOptions { Probe = probe });
            await entered.Task.WaitAsync(Bound);

            // The blocked call holds only the rest of its own run (at most one run of cheap items); the other thread
            // processes every other run meanwhile.
            var maxRun = Internal.RunLength.MaxFor(JobOptions.DefaultQueueSize, 2);
            Bounded.Until(
                () => JobQueue.Stat(probe).Stages[0] is { Doing: 1 } stage && stage.Out >= Count - maxRun,
                "every run but the blocked one is processed, and the blocked call is the one in progress",
                () => Describe(probe));

            release.Set();
            var result = await run.WaitAsync(Bound);
            Assert.IsTrue(result.Completed);
            Assert.AreEqual((long)Count, result.Stats.Stages[1].Out);
        }
        finally
        {
            release.Set();
        }
    }

    [TestMethod]
    public async Task JobManager_CallBlocksAmidCheapItemsWhileInputStaysOpen_RunsNotHeldByItFlowOnTheOtherThread()
    {
        const int Count = 100_000, Blocker = 50_000;
        var probe = new Probe();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var release = new ManualResetEventSlim();
        var workers = Workers.Of<int>().Then(x => BlockOn(x, Blocker, entered, release), threads: 2).Then((int _) => { });
        using var manager = JobManager.Create(workers, new JobOptions { Probe = probe });

        try
        {
            await Task.Run(() =>
            {
                for (var i = 0; i < Count; i++)
                {
                    manager.Put(i);
                }
            }).WaitAsync(Bound);
            await entered.Task.WaitAsync(Bound);

            var maxRun = Internal.RunLength.MaxFor(JobOptions.DefaultQueueSize, 2);
            Bounded.Until(
                () => JobQueue.Stat(probe).Stages[0] is { Doing: 1 } stage && stage.Out >= Count - maxRun,
                "every run but the blocked one is processed, and the blocked call is the one in progress",
                () => Describe(probe));

            release.Set();
            Assert.IsTrue(await manager.JoinAsync(Bound));
            Assert.AreEqual((long)Count, JobQueue.Stat(probe).Stages[1].Out);
        }
        finally
        {
            release.Set();
        }
    }

    private static int BlockOn(int x, int blocker, TaskCompletionSource entered, ManualResetEventSlim release)
    {
        if (x == blocker)
        {
            entered.TrySetResult();
            release.Wait(Bound);
        }

        return x;
    }

    private static string Describe(Probe probe)
    {
        var stage = JobQueue.Stat(probe).Stages[0];
        return $"stage 0: in {stage.In}, out {stage.Out}, doing {stage.Doing}, queued {stage.Input.Size}";
    }
}
