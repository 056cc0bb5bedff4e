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
    [TestMethod]
    [Timeout(20_000, CooperativeCancellation = true)]
    [DataRow(200_000, false, JobOptions.DefaultQueueSize)]
    [DataRow(200_000, true, JobOptions.DefaultQueueSize)]
    [DataRow(20_000, false, 4)] // tiny queues: every hand-over waits, so fewer items keep it fast
    [DataRow(20_000, true, 4)]
    public async Task Run_ManyItemsThroughThreadedStages_EveryItemExactlyOnce(int count, bool keepOrder, int queueSize)
    {
        var seen = new int[count];
        var order = new int[count];
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

        var result = await JobQueue.RunAsync(Enumerable.Range(0, count), workers, new JobOptions { KeepOrder = keepOrder, QueueSize = queueSize }).WaitAsync(TimeSpan.FromSeconds(19));

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(count, received);
        Assert.AreEqual((long)count * (count - 1) / 2, sum);
        Assert.AreEqual(-1, Array.FindIndex(seen, s => s != 1), "an item was lost or duplicated");
        if (keepOrder)
        {
            Assert.AreEqual(-1, FirstOutOfOrder(order), "an item left the pipeline out of order");
        }

        foreach (var stage in result.Stats.Stages)
        {
            Assert.AreEqual(count, stage.In);
            Assert.AreEqual(count, stage.Out);
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

        var result = await JobQueue.RunAsync(Enumerable.Range(0, count), workers, new JobOptions { KeepOrder = true, QueueSize = 64 }).WaitAsync(TimeSpan.FromSeconds(19));

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
