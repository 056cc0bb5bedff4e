namespace JobQ.Dataflow.Tests.Pipeline;

/// <summary>
/// Conservation under load: 200,000 items through three stages with 1, 4 and 2 threads arrive exactly once
/// (count, sum and a seen-map), and in exact input order under keepOrder. A one-thread sink after them observes
/// the order the third stage passes items on in.
/// </summary>
[TestClass]
[TestCategory("Stress")]
public sealed class ConservationStressTests
{
    private const int Count = 200_000;

    [TestMethod]
    [Timeout(20_000, CooperativeCancellation = true)]
    [DataRow(false, JobOptions.DefaultQueueSize)]
    [DataRow(true, JobOptions.DefaultQueueSize)]
    [DataRow(false, 16)]
    [DataRow(true, 16)]
    public async Task Run_TwoHundredThousandItemsThroughThreadedStages_EveryItemExactlyOnce(bool keepOrder, int queueSize)
    {
        var seen = new int[Count];
        var order = new int[Count];
        var received = 0;
        long sum = 0;
        var workers = Workers.Of<int>()
            .Then(x => (long)x + 1, threads: 1)
            .Then(x => x * 2, threads: 4)
            .Then(x => (int)((x / 2) - 1), threads: 2)
            .Then(x =>
            {
                // Single-threaded sink: plain writes are safe, and its call order is the order items left stage 3.
                seen[x]++;
                order[received++] = x;
                sum += x;
            });

        var result = await JobQueue.RunAsync(Enumerable.Range(0, Count), workers, new JobOptions { KeepOrder = keepOrder, QueueSize = queueSize }).WaitAsync(TimeSpan.FromSeconds(18));

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(Count, received);
        Assert.AreEqual((long)Count * (Count - 1) / 2, sum);
        Assert.AreEqual(-1, Array.FindIndex(seen, s => s != 1), "an item was lost or duplicated");
        if (keepOrder)
        {
            Assert.AreEqual(-1, FirstOutOfOrder(order), "an item left the pipeline out of order");
        }

        foreach (var stage in result.Stats.Stages)
        {
            Assert.AreEqual(Count, stage.In);
            Assert.AreEqual(Count, stage.Out);
        }
    }

    [TestMethod]
    [Timeout(20_000, CooperativeCancellation = true)]
    public async Task Run_AsyncAndDispatcherStagesUnderLoad_EveryItemExactlyOnceInOrder()
    {
        const int count = 50_000;
        var order = new List<int>(count);
        var workers = Workers.Of<int>()
            .Then(async x =>
            {
                if (x % 64 == 0)
                {
                    await Task.Yield();
                }

                return x;
            }, threads: 4)
            .Then(x => x, threads: 3, dispatcher: x => x / 7)
            .ThenMany(x => x % 2 == 0 ? new[] { x } : [])
            .Then(order.Add);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, count), workers, new JobOptions { KeepOrder = true, QueueSize = 64 }).WaitAsync(TimeSpan.FromSeconds(18));

        Assert.IsTrue(result.Completed);
        CollectionAssert.AreEqual(Enumerable.Range(0, count).Where(x => x % 2 == 0).ToArray(), order);
    }

    private static int FirstOutOfOrder(int[] order)
    {
        for (var i = 0; i < order.Length; i++)
        {
            if (order[i] != i)
            {
                return i;
            }
        }

        return -1;
    }
}
