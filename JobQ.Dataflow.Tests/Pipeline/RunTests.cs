using System.Collections.Concurrent;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Pipeline;

/// <summary>jobq.run: sequential chains, threads, keepOrder, EmptyRst, null, input kinds (ports of jobq's synopsis and tests).</summary>
[TestClass]
public sealed class RunTests
{
    private static int Add1(int x) => x + 1;

    private static int Multi2(int x) => x * 2;

    [TestMethod]
    public async Task Run_Add1ThenPrint_OutputsOneTwoThree()
    {
        var printed = new List<int>();

        var result = await Bounded.RunBlocking(() => JobQueue.Run([0, 1, 2], Workers.Of<int>().Then(Add1).Then(printed.Add)));

        CollectionAssert.AreEqual(new[] { 1, 2, 3 }, printed);
        Assert.IsTrue(result.Completed);
        Assert.IsFalse(result.TimedOut);
    }

    [TestMethod]
    public async Task Run_Add1Multi2ThenPrint_OutputsTwoFourSix()
    {
        var printed = new List<int>();

        await Bounded.RunBlocking(() => JobQueue.Run([0, 1, 2], Workers.Of<int>().Then(Add1).Then(Multi2).Then(printed.Add)));

        CollectionAssert.AreEqual(new[] { 2, 4, 6 }, printed);
    }

    [TestMethod]
    public async Task Run_SequentialStagesOnLongInput_KeepInputOrder()
    {
        // With one thread per stage the order is kept without keepOrder (jobq: single worker per group is FIFO).
        var printed = new List<int>();

        await Bounded.RunBlocking(() => JobQueue.Run(Enumerable.Range(0, 5000), Workers.Of<int>().Then(Add1).Then(Multi2).Then(printed.Add)));

        CollectionAssert.AreEqual(Enumerable.Range(0, 5000).Select(x => (x + 1) * 2).ToArray(), printed);
    }

    [TestMethod]
    public async Task Run_MiddleStageWithTwoThreads_OutputsSameSet()
    {
        var printed = new ConcurrentBag<int>();

        await Bounded.RunBlocking(() => JobQueue.Run(Enumerable.Range(0, 3), Workers.Of<int>().Then(Add1).Then(Multi2, threads: 2).Then(printed.Add)));

        CollectionAssert.AreEquivalent(new[] { 2, 4, 6 }, printed.ToArray());
    }

    [TestMethod]
    public async Task Run_ManyThreadsEverywhere_EveryItemExactlyOnce()
    {
        var printed = new ConcurrentBag<int>();

        await Bounded.RunBlocking(() => JobQueue.Run(
            Enumerable.Range(0, 2000),
            Workers.Of<int>().Then(Add1, threads: 3).Then(Multi2, threads: 5).Then(printed.Add, threads: 4)));

        CollectionAssert.AreEquivalent(Enumerable.Range(0, 2000).Select(x => (x + 1) * 2).ToArray(), printed.ToArray());
    }

    [TestMethod]
    public async Task Run_KeepOrderWithThreadedMiddleStageAndRandomDelays_ExactInputOrder()
    {
        var printed = new List<int>();
        var workers = Workers.Of<int>()
            .Then(Add1)
            .Then(x =>
            {
                Thread.Sleep(Random.Shared.Next(0, 3)); // workload: uneven per-item cost reorders completions
                return x * 2;
            }, threads: 4)
            .Then(printed.Add);

        await Bounded.RunBlocking(() => JobQueue.Run(Enumerable.Range(0, 300), workers, keepOrder: true));

        CollectionAssert.AreEqual(Enumerable.Range(0, 300).Select(x => (x + 1) * 2).ToArray(), printed);
    }

    [TestMethod]
    public async Task Run_KeepOrderWithEveryStageThreaded_ExactInputOrder()
    {
        var printed = new List<int>();
        var workers = Workers.Of<int>()
            .Then(x =>
            {
                Thread.SpinWait(Random.Shared.Next(0, 2_000)); // workload
                return x + 1;
            }, threads: 3)
            .Then(x =>
            {
                Thread.SpinWait(Random.Shared.Next(0, 2_000)); // workload
                return x * 2;
            }, threads: 5)
            .Then(printed.Add);

        await Bounded.RunBlocking(() => JobQueue.Run(Enumerable.Range(0, 3000), workers, keepOrder: true));

        CollectionAssert.AreEqual(Enumerable.Range(0, 3000).Select(x => (x + 1) * 2).ToArray(), printed);
    }

    [TestMethod]
    public async Task Run_SynopsisKeepOrder_OutputsTwoFourSix()
    {
        var printed = new List<int>();

        await Bounded.RunBlocking(() => JobQueue.Run(Enumerable.Range(0, 3), Workers.Of<int>().Then(Add1).Then(Multi2, threads: 2).Then(printed.Add), keepOrder: true));

        CollectionAssert.AreEqual(new[] { 2, 4, 6 }, printed);
    }

    [TestMethod]
    public async Task Run_WorkerReturnsEmptyRstForEvenValueTypes_OnlyOddPassOn()
    {
        static WorkerResult<int> DropEven(int i) => i % 2 == 0 ? JobQueue.EmptyRst : i;
        var printed = new List<int>();

        var result = await Bounded.RunBlocking(() => JobQueue.Run(Enumerable.Range(0, 10), Workers.Of<int>().Then(DropEven).Then(printed.Add)));

        CollectionAssert.AreEqual(new[] { 1, 3, 5, 7, 9 }, printed);
        Assert.AreEqual(5, result.Stats.Stages[0].Dropped);
        Assert.AreEqual(10, result.Stats.Stages[0].Out);
        Assert.AreEqual(5, result.Stats.Stages[1].In);
    }

    [TestMethod]
    public async Task Run_EmptyRstUnderKeepOrderWithThreads_NoGapNoReorder()
    {
        var printed = new List<double>();
        var workers = Workers.Of<int>()
            .Then(i =>
            {
                Thread.SpinWait(Random.Shared.Next(0, 2_000)); // workload
                return i % 3 == 0 ? JobQueue.EmptyRst : new WorkerResult<double>(i / 2.0);
            }, threads: 4)
            .Then(printed.Add);

        await Bounded.RunBlocking(() => JobQueue.Run(Enumerable.Range(0, 600), workers, keepOrder: true));

        CollectionAssert.AreEqual(Enumerable.Range(0, 600).Where(i => i % 3 != 0).Select(i => i / 2.0).ToArray(), printed);
    }

    [TestMethod]
    public async Task Run_WorkerReturnsNull_NullIsPassedOn()
    {
        var received = new List<string?>();
        var workers = Workers.Of<int>()
            .Then(i => i % 2 == 0 ? null : i.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Then(received.Add);

        await Bounded.RunBlocking(() => JobQueue.Run(Enumerable.Range(0, 4), workers));

        CollectionAssert.AreEqual(new[] { null, "1", null, "3" }, received);
    }

    [TestMethod]
    public async Task Run_NullableValueTypeNull_IsPassedOnNotDropped()
    {
        var received = new List<int?>();
        var workers = Workers.Of<int>().Then(i => i == 1 ? (int?)null : i).Then(received.Add);

        var result = await Bounded.RunBlocking(() => JobQueue.Run(Enumerable.Range(0, 3), workers));

        CollectionAssert.AreEqual(new int?[] { 0, null, 2 }, received);
        Assert.AreEqual(0, result.Stats.Stages[0].Dropped);
    }

    [TestMethod]
    public async Task Run_ActionStageInTheMiddle_PassesItemOnUnchanged()
    {
        var seen = new List<int>();
        var printed = new List<int>();

        await Bounded.RunBlocking(() => JobQueue.Run([5, 6, 7], Workers.Of<int>().Then(seen.Add).Then(Add1).Then(printed.Add)));

        CollectionAssert.AreEqual(new[] { 5, 6, 7 }, seen);
        CollectionAssert.AreEqual(new[] { 6, 7, 8 }, printed);
    }

    [TestMethod]
    public async Task Run_EmptyInput_CompletesWithoutCallingWorkers()
    {
        var calls = 0;

        var result = await Bounded.RunBlocking(() => JobQueue.Run(Array.Empty<int>(), Workers.Of<int>().Then(_ => Interlocked.Increment(ref calls))));

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(0, calls);
        Assert.AreEqual(0, result.Stats.In);
    }

    [TestMethod]
    public async Task Run_DictionaryInput_EveryPairProcessed()
    {
        // jobq accepts a dict as input; in C# a dictionary is a sequence of key/value pairs.
        var input = new Dictionary<string, int> { ["a"] = 1, ["b"] = 2, ["c"] = 3 };
        var printed = new ConcurrentBag<string>();

        await Bounded.RunBlocking(() => JobQueue.Run(input, Workers.Of<KeyValuePair<string, int>>().Then(kv => kv.Key + kv.Value).Then(printed.Add)));

        CollectionAssert.AreEquivalent(new[] { "a1", "b2", "c3" }, printed.ToArray());
    }

    [TestMethod]
    public async Task Run_LazyIteratorThroughStagesChangingType_AllItemsInOrder()
    {
        static IEnumerable<int> Numbers()
        {
            for (var i = 0; i < 1000; i++)
            {
                yield return i;
            }
        }

        var printed = new List<string>();
        var workers = Workers.Of<int>().Then(i => (long)i * 3).Then(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture)).Then(printed.Add);

        await Bounded.RunBlocking(() => JobQueue.Run(Numbers(), workers, keepOrder: true));

        CollectionAssert.AreEqual(Enumerable.Range(0, 1000).Select(i => (i * 3L).ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray(), printed);
    }

    [TestMethod]
    public async Task Run_OptionsOverload_UsesKeepOrder()
    {
        var printed = new List<int>();
        var workers = Workers.Of<int>()
            .Then(x =>
            {
                Thread.SpinWait(Random.Shared.Next(0, 2_000)); // workload
                return x;
            }, threads: 4)
            .Then(printed.Add);

        var result = await Bounded.RunBlocking(() => JobQueue.Run(Enumerable.Range(0, 500), workers, new JobOptions { KeepOrder = true, QueueSize = 16 }));

        Assert.IsTrue(result.Completed);
        CollectionAssert.AreEqual(Enumerable.Range(0, 500).ToArray(), printed);
    }

    [TestMethod]
    public async Task RunAsync_EnumerableInput_CompletesAndReportsCompleted()
    {
        var printed = new ConcurrentBag<int>();

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 100), Workers.Of<int>().Then(Add1, threads: 2).Then(printed.Add)).Within();

        Assert.IsTrue(result.Completed);
        Assert.IsFalse(result.TimedOut);
        CollectionAssert.AreEquivalent(Enumerable.Range(1, 100).ToArray(), printed.ToArray());
    }

    [TestMethod]
    public async Task RunAsync_AsyncEnumerableInput_ProcessesEveryItemInOrder()
    {
        static async IAsyncEnumerable<int> Source()
        {
            for (var i = 0; i < 200; i++)
            {
                if (i % 10 == 0)
                {
                    await Task.Yield();
                }

                yield return i;
            }
        }

        var printed = new List<int>();

        var result = await JobQueue.RunAsync(Source(), Workers.Of<int>().Then(Add1, threads: 3).Then(printed.Add), new JobOptions { KeepOrder = true }).Within();

        Assert.IsTrue(result.Completed);
        CollectionAssert.AreEqual(Enumerable.Range(1, 200).ToArray(), printed);
    }

    [TestMethod]
    public async Task Run_SameWorkerListTwiceAtOnce_RunsAreIndependent()
    {
        var first = new ConcurrentBag<int>();
        var second = new ConcurrentBag<int>();
        var shared = Workers.Of<int>().Then(Add1, threads: 2);

        var a = Task.Run(() => JobQueue.Run(Enumerable.Range(0, 500), shared.Then(first.Add)));
        var b = Task.Run(() => JobQueue.Run(Enumerable.Range(1000, 500), shared.Then(second.Add)));
        await Task.WhenAll(a, b).Within();

        CollectionAssert.AreEquivalent(Enumerable.Range(1, 500).ToArray(), first.ToArray());
        CollectionAssert.AreEquivalent(Enumerable.Range(1001, 500).ToArray(), second.ToArray());
    }

    [TestMethod]
    public void Run_CalledUnderSingleThreadedSynchronizationContext_DoesNotDeadlock()
    {
        // Like a UI thread: a context whose posts are never run while Run blocks the thread.
        JobRunResult? result = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            SynchronizationContext.SetSynchronizationContext(new NeverPumpedContext());
            try
            {
                var workers = Workers.Of<int>().Then(async x => { await Task.Yield(); return x + 1; }, threads: 2).Then(x => x);
                result = JobQueue.Run(Enumerable.Range(0, 100), workers, timeout: null);
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        })
        {
            IsBackground = true, // a deadlocked Run must not keep the test host alive
        };
        thread.Start();

        Assert.IsTrue(thread.Join(Bounded.Limit), "Run deadlocked under a synchronization context");
        Assert.IsNull(failure);
        Assert.IsNotNull(result);
        Assert.IsTrue(result.Completed);
    }

    private sealed class NeverPumpedContext : SynchronizationContext
    {
        public override void Post(SendOrPostCallback d, object? state)
        {
            // Dropped: nothing pumps this context while Run blocks its thread.
        }
    }

    [TestMethod]
    public async Task RunAsync_AsyncInputPausesAfterABurst_EveryItemReadIsProcessedWhileItWaits()
    {
        // A channel, a socket, an event stream: the items read before the input waits for more must not wait with it.
        var channel = System.Threading.Channels.Channel.CreateUnbounded<int>();
        var seen = 0;
        var workers = Workers.Of<int>().Then(_ => Interlocked.Increment(ref seen));
        var run = JobQueue.RunAsync(channel.Reader.ReadAllAsync(), workers);

        for (var burst = 1; burst <= 3; burst++)
        {
            for (var i = 0; i < 300; i++)
            {
                Assert.IsTrue(channel.Writer.TryWrite(i));
            }

            var expected = burst * 300;
            Bounded.Until(() => Volatile.Read(ref seen) == expected, $"the {expected} items written so far to be processed while the input waits");
        }

        channel.Writer.Complete();
        var result = await run.Within();
        Assert.AreEqual(900, result.Stats.Stages[0].Out);
    }
}
