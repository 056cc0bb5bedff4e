using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

// Not "...Tests.Workers": a namespace of that name would hide the JobQ.Dataflow.Workers class from every test.
namespace JobQ.Dataflow.Tests.StageWorkers;

/// <summary>
/// A cheap stage may run on the thread of the stage before it (one of its idle lanes is lent to that thread). These
/// tests pin down that nothing a user can observe changes: thread counts, order, counters, failures, timeouts, resizing.
/// Cheap workers over many items make the inline path the common one; the assertions hold whichever path an item took.
/// </summary>
[TestClass]
public sealed class InlineRunTests
{
    private const int Items = 200_000;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [TestMethod]
    public void Run_CheapChain_LaterStageRunsSomeCallsOnEarlierStageThread()
    {
        var threads = new ConcurrentDictionary<string, byte>();
        var workers = Workers.Of<int>()
            .Then(x => x + 1)
            .Then((int x) => { threads.TryAdd(Thread.CurrentThread.Name ?? "?", 0); });

        var result = JobQueue.Run(Enumerable.Range(0, 1_000_000), workers);

        Assert.IsTrue(result.Completed);
        Assert.IsTrue(
            threads.Keys.Any(name => name.StartsWith("JobQ stage0 ", StringComparison.Ordinal)),
            $"The last stage never ran on the first stage's thread; it ran on: {string.Join(", ", threads.Keys)}.");
    }

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

        var result = JobQueue.Run(Enumerable.Range(0, Items), workers);

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(1, most);
        Assert.AreEqual(Items, count);
    }

    [TestMethod]
    public void Run_CheapOneThreadChain_LastStageSeesInputOrder()
    {
        var seen = new List<int>(Items);
        var workers = Workers.Of<int>().Then(x => x + 1).Then(x => x - 1).Then((int x) => seen.Add(x));

        JobQueue.Run(Enumerable.Range(0, Items), workers);

        CollectionAssert.AreEqual(Enumerable.Range(0, Items).ToList(), seen);
    }

    [TestMethod]
    public void Run_KeepOrderCheapMiddleStageWithFourThreads_LastStageSeesInputOrder()
    {
        var seen = new List<int>(Items);
        var workers = Workers.Of<int>().Then(x => x + 1).Then(x => x - 1, threads: 4).Then((int x) => seen.Add(x));

        JobQueue.Run(Enumerable.Range(0, Items), workers, keepOrder: true);

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

        var result = JobQueue.Run(Enumerable.Range(0, Items), workers, new JobOptions { Probe = probe, ErrorPolicy = ErrorPolicy.Handle(_ => { }) });

        var stats = JobQueue.Stat(probe);
        Assert.IsTrue(result.Completed);
        Assert.AreEqual(Items / 1000L, stats.Stages[1].Failed);
        Assert.AreEqual((long)Items, stats.Stages[1].In);
        Assert.AreEqual(Items - (Items / 1000L), arrived);
        Assert.AreEqual(Items - (Items / 1000L), stats.Stages[2].Out);
    }

    [TestMethod]
    public async Task RunAsync_TimeoutWhileInlineCallBlocks_ReturnsWithCountsOfOneCallInProgress()
    {
        // The blocking call must be one that runs on the first stage's thread; whether a given item does depends on
        // timing, so the run is repeated until it does (in practice within a few attempts).
        for (var attempt = 0; attempt < 20; attempt++)
        {
            if (await TimeoutWhileInlineCallBlocksAsync())
            {
                return;
            }
        }

        Assert.Fail("The blocking item never ran inline in 20 runs.");
    }

    private static async Task<bool> TimeoutWhileInlineCallBlocksAsync()
    {
        const int Count = 1_000_000, Blocker = 900_000;
        var time = new FakeTimeProvider();
        var probe = new Probe();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var missed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var release = new ManualResetEventSlim();
        var workers = Workers.Of<int>()
            .Then(x => x)
            .Then(x =>
            {
                if (x == Blocker)
                {
                    if (Thread.CurrentThread.Name?.StartsWith("JobQ stage0 ", StringComparison.Ordinal) != true)
                    {
                        missed.TrySetResult();
                        return x;
                    }

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
            if (await Task.WhenAny(entered.Task, missed.Task).WaitAsync(Bound) == missed.Task)
            {
                Assert.IsTrue((await run.WaitAsync(Bound)).Completed);
                return false;
            }

            var stats = JobQueue.Stat(probe);
            Assert.AreEqual(1L, stats.Stages[1].Doing, "The blocked call is the one call in progress in its stage.");
            Assert.AreEqual(0L, stats.Stages[0].Doing + stats.Stages[2].Doing, "No other stage is in a call while its thread runs the blocked one.");

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
        return true;
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
}
