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
    public async Task Then_SyncWorkersWithTokenBlockingTogether_GetThreadsAndSeeTheStopCancelTheirToken()
    {
        const int threads = 4;
        using var barrier = new Barrier(threads + 1);
        var cancelledInCall = 0;
        using var cancel = new CancellationTokenSource();
        var workers = Workers.Of<int>().Then(
            (x, ct) =>
            {
                // All four calls are inside at once (each on a thread of its own), then wait for the stop.
                barrier.SignalAndWait(Bounded.Limit);
                if (ct.WaitHandle.WaitOne(Bounded.Limit))
                {
                    Interlocked.Increment(ref cancelledInCall);
                }

                return x;
            },
            threads: threads);

        var run = JobQueue.RunAsync(Enumerable.Range(0, threads), workers, cancellationToken: cancel.Token);
        Assert.IsTrue(barrier.SignalAndWait(Bounded.Limit), "four blocking calls at once");
        cancel.Cancel();

        await Assert.ThrowsAsync<OperationCanceledException>(() => run.Within());
        Bounded.Until(() => Volatile.Read(ref cancelledInCall) == threads, "every call to see its token cancelled");
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
