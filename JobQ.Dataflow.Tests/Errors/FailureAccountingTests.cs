namespace JobQ.Dataflow.Tests.Errors;

[TestClass]
public sealed class FailureAccountingTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task RunAsync_FailuresAndDrops_EveryStageAccountsForEveryItem(bool keepOrder)
    {
        const int count = 1000;
        var sunk = 0;
        var workers = Workers.Of<int>()
            .Then(x => x % 5 == 0 ? throw new InvalidOperationException("fifth") : x, threads: 2, name: "parse")
            .Then(DropEven, threads: 2, name: "filter")
            .Then(
                async (int x, CancellationToken ct) =>
                {
                    await Task.Yield();
                    return x % 3 == 0 ? throw new InvalidOperationException("third") : x;
                },
                threads: 3,
                name: "enrich")
            .Then((int _) => { Interlocked.Increment(ref sunk); }, name: "sink");

        var result = await JobQueue.RunAsync(Enumerable.Range(0, count), workers, new JobOptions { KeepOrder = keepOrder, QueueSize = 16 }).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        var stages = result.Stats.Stages;
        Assert.AreEqual((long)count, stages[0].In);
        for (var s = 0; s < stages.Count; s++)
        {
            Assert.AreEqual(stages[s].In, stages[s].Out, $"stage {stages[s].Name}: In == Out");
            var passedOn = stages[s].Out - stages[s].Failed - stages[s].Dropped;
            var received = s + 1 < stages.Count ? stages[s + 1].In : stages[^1].Out;
            Assert.AreEqual(received, passedOn, $"stage {stages[s].Name}: Out - Failed - Dropped == items passed on");
        }

        var afterParse = Enumerable.Range(0, count).Where(x => x % 5 != 0).ToList();
        var afterFilter = afterParse.Where(x => x % 2 != 0).ToList();
        var afterEnrich = afterFilter.Where(x => x % 3 != 0).ToList();
        Assert.AreEqual((long)(count - afterParse.Count), stages[0].Failed);
        Assert.AreEqual((long)(afterParse.Count - afterFilter.Count), stages[1].Dropped);
        Assert.AreEqual(0L, stages[1].Failed);
        Assert.AreEqual((long)(afterFilter.Count - afterEnrich.Count), stages[2].Failed);
        Assert.AreEqual(afterEnrich.Count, sunk);
    }

    [TestMethod]
    public async Task RunAsync_DispatcherThrows_StageAccountsForEveryItemItReceived()
    {
        const int count = 100;
        var sunk = 0;
        var workers = Workers.Of<int>()
            .Then(x => x, threads: 3, dispatcher: x => x % 7 == 0 ? throw new InvalidOperationException("no partition") : x, name: "routed")
            .Then((int _) => { Interlocked.Increment(ref sunk); }, name: "sink");

        var result = await JobQueue.RunAsync(Enumerable.Range(0, count), workers).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        var routed = result.Stats.Stages[0];
        var failures = Enumerable.Range(0, count).Count(x => x % 7 == 0);
        Assert.AreEqual((long)failures, routed.Failed);
        Assert.AreEqual(count - failures, sunk);
        Assert.AreEqual(routed.In, routed.Out);
        Assert.AreEqual((long)count, routed.In, "In counts every item the stage received, the ones its dispatcher failed on included.");
        Assert.AreEqual((long)sunk, routed.Out - routed.Failed - routed.Dropped, "Out - Failed - Dropped == items passed on.");
    }

    private static WorkerResult<int> DropEven(int i) => i % 2 == 0 ? JobQueue.EmptyRst : i;
}
