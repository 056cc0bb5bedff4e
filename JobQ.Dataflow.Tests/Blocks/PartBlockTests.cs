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
