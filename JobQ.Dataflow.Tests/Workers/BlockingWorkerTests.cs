using System.Diagnostics;
using JobQ.Dataflow.Tests.Support;

// Not "...Tests.Workers": a namespace of that name would hide the JobQ.Dataflow.Workers class from every test.
namespace JobQ.Dataflow.Tests.StageWorkers;

/// <summary>Blocking sync workers get a dedicated thread each: n calls run at once from the first item.</summary>
[TestClass]
public sealed class BlockingWorkerTests
{
    [TestMethod]
    public async Task Then_TenThreadsWithBarrierInsideWorker_AllCallsMeetQuickly()
    {
        const int threads = 10;
        using var barrier = new Barrier(threads);
        var failures = 0;
        var workers = Workers.Of<int>().Then(x =>
        {
            // Ten calls must be inside at the same time for the barrier to open.
            if (!barrier.SignalAndWait(TimeSpan.FromSeconds(5)))
            {
                Interlocked.Increment(ref failures);
            }

            return x;
        }, threads: threads);

        var stopwatch = Stopwatch.StartNew();
        var result = await Bounded.RunBlocking(() => JobQueue.Run(Enumerable.Range(0, threads * 3), workers));
        stopwatch.Stop();

        Assert.AreEqual(0, failures, "every barrier phase must complete");
        Assert.AreEqual(threads * 3, result.Stats.Stages[0].Out);
        Assert.IsLessThan(3_000, stopwatch.ElapsedMilliseconds, $"three barrier phases took {stopwatch.ElapsedMilliseconds} ms");
    }

    [TestMethod]
    public async Task Then_TwoBlockingStagesWithBarriers_BothStagesRunConcurrently()
    {
        using var first = new Barrier(4);
        using var second = new Barrier(3);
        var failures = 0;
        var workers = Workers.Of<int>()
            .Then(x => first.SignalAndWait(TimeSpan.FromSeconds(5)) ? x : Fail(x), threads: 4)
            .Then(x => second.SignalAndWait(TimeSpan.FromSeconds(5)) ? x : Fail(x), threads: 3);

        var result = await Bounded.RunBlocking(() => JobQueue.Run(Enumerable.Range(0, 12), workers));

        Assert.AreEqual(0, failures);
        Assert.AreEqual(12, result.Stats.Stages[1].Out);

        int Fail(int x)
        {
            Interlocked.Increment(ref failures);
            return x;
        }
    }
}
