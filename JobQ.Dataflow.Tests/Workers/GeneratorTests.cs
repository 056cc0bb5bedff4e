using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Tests.Support;
using Microsoft.Extensions.Logging;
using Moq;

// Not "...Tests.Workers": a namespace of that name would hide the JobQ.Dataflow.Workers class from every test.
namespace JobQ.Dataflow.Tests.StageWorkers;

/// <summary>One-to-many workers (jobq's generator workers), sync and async.</summary>
[TestClass]
public sealed class GeneratorTests
{
    private static IEnumerable<int> ZeroOneTwo(int unused)
    {
        yield return 0;
        Thread.SpinWait(Random.Shared.Next(0, 50_000)); // workload: makes the two lanes interleave
        yield return 1;
        yield return 2;
    }

    [TestMethod]
    public async Task ThenMany_Generator_EachYieldedElementGoesOnAsItsOwnItem()
    {
        var printed = new List<int>();

        await JobQueue.RunAsync([1, 2, 3], Workers.Of<int>().ThenMany(x => Enumerable.Repeat(x, x)).Then(printed.Add)).Within();

        CollectionAssert.AreEqual(new[] { 1, 2, 2, 3, 3, 3 }, printed);
    }

    [TestMethod]
    public async Task ThenMany_TwoThreadsUnderKeepOrder_OneGeneratorsOutputsStayTogether()
    {
        // jobq: run(range(3), [(gen, 2), collect], keep_order=True) gives 0,1,2,0,1,2,0,1,2.
        var collected = new List<int>();

        await JobQueue.RunAsync(Enumerable.Range(0, 3), Workers.Of<int>().ThenMany(ZeroOneTwo, threads: 2).Then(collected.Add), new JobOptions { KeepOrder = true }).Within();

        CollectionAssert.AreEqual(new[] { 0, 1, 2, 0, 1, 2, 0, 1, 2 }, collected);
    }

    [TestMethod]
    public async Task ThenMany_ManyThreadsUnderKeepOrderLongInput_GroupsStayTogetherInInputOrder()
    {
        static IEnumerable<int> Gen(int x)
        {
            for (var k = 0; k < x % 4; k++)
            {
                Thread.SpinWait(Random.Shared.Next(0, 5_000)); // workload
                yield return (x * 10) + k;
            }
        }

        var collected = new List<int>();

        await JobQueue.RunAsync(Enumerable.Range(0, 500), Workers.Of<int>().ThenMany(Gen, threads: 4).Then(collected.Add), new JobOptions { KeepOrder = true }).Within();

        CollectionAssert.AreEqual(Enumerable.Range(0, 500).SelectMany(Gen).ToArray(), collected);
    }

    [TestMethod]
    public async Task ThenMany_GeneratorYieldsNothing_CountedAsDropped()
    {
        var printed = new List<int>();

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 6), Workers.Of<int>().ThenMany(x => x % 2 == 0 ? [] : new[] { x }).Then(printed.Add)).Within();

        CollectionAssert.AreEqual(new[] { 1, 3, 5 }, printed);
        Assert.AreEqual(3, result.Stats.Stages[0].Dropped);
    }

    [TestMethod]
    public async Task ThenMany_GeneratorYieldsEmptyRst_ThoseValuesAreSkipped()
    {
        // jobq: each value a generator yields goes on as its own element, EmptyRst values skipped.
        static IEnumerable<WorkerResult<int>> Gen(int x)
        {
            yield return x;
            yield return JobQueue.EmptyRst;
            yield return x * 10;
        }

        var printed = new List<int>();

        var result = await JobQueue.RunAsync([1, 2], Workers.Of<int>().ThenMany(Gen).Then(printed.Add)).Within();

        CollectionAssert.AreEqual(new[] { 1, 10, 2, 20 }, printed);
        Assert.AreEqual(0, result.Stats.Stages[0].Dropped);
    }

    [TestMethod]
    public async Task ThenMany_GeneratorYieldsOnlyEmptyRst_CountedAsDropped()
    {
        static IEnumerable<WorkerResult<int>> Gen(int x)
        {
            yield return x % 2 == 0 ? JobQueue.EmptyRst : x;
        }

        var printed = new List<int>();

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 6), Workers.Of<int>().ThenMany(Gen, threads: 2).Then(printed.Add), new JobOptions { KeepOrder = true }).Within();

        CollectionAssert.AreEqual(new[] { 1, 3, 5 }, printed);
        Assert.AreEqual(3, result.Stats.Stages[0].Dropped);
    }

    [TestMethod]
    public async Task ThenMany_GeneratorWithTokenYieldsEmptyRst_ThoseValuesAreSkipped()
    {
        static IEnumerable<WorkerResult<int>> Gen(int x, CancellationToken cancellationToken)
        {
            yield return JobQueue.EmptyRst;
            yield return cancellationToken.CanBeCanceled ? x : -1;
        }

        var printed = new List<int>();

        await JobQueue.RunAsync([1, 2], Workers.Of<int>().ThenMany(Gen).Then(printed.Add), new JobOptions { KeepOrder = true }).Within();

        CollectionAssert.AreEqual(new[] { 1, 2 }, printed);
    }

    [TestMethod]
    public async Task ThenMany_AsyncGeneratorYieldsEmptyRst_ThoseValuesAreSkipped()
    {
        static async IAsyncEnumerable<WorkerResult<string>> Gen(int x)
        {
            await Task.Yield();
            yield return JobQueue.EmptyRst;
            yield return $"{x}";
        }

        static async IAsyncEnumerable<WorkerResult<string>> GenWithToken(string x, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.Yield();
            yield return cancellationToken.CanBeCanceled ? x + "!" : "no token";
            yield return JobQueue.EmptyRst;
        }

        var printed = new List<string>();

        await JobQueue.RunAsync([1, 2], Workers.Of<int>().ThenMany(Gen).ThenMany(GenWithToken).Then(printed.Add), new JobOptions { KeepOrder = true }).Within();

        CollectionAssert.AreEqual(new[] { "1!", "2!" }, printed);
    }

    [TestMethod]
    public async Task Then_WorkerReturningList_ListIsPassedOnAsOneValue()
    {
        var received = new List<List<int>>();

        await JobQueue.RunAsync([2, 3], Workers.Of<int>().Then(x => Enumerable.Range(0, x).ToList()).Then(received.Add)).Within();

        Assert.HasCount(2, received);
        CollectionAssert.AreEqual(new[] { 0, 1 }, received[0]);
        CollectionAssert.AreEqual(new[] { 0, 1, 2 }, received[1]);
    }

    [TestMethod]
    public async Task ThenMany_GeneratorYieldsMoreThanQueueSize_AllElementsArriveInOrder()
    {
        var collected = new List<int>();

        await JobQueue.RunAsync([0, 1], Workers.Of<int>().ThenMany(x => Enumerable.Range(x * 1000, 1000)).Then(collected.Add), new JobOptions { QueueSize = 8 }).Within();

        CollectionAssert.AreEqual(Enumerable.Range(0, 2000).ToArray(), collected);
    }

    [TestMethod]
    public async Task ThenMany_AsyncGenerator_EachElementGoesOn()
    {
        static async IAsyncEnumerable<string> Letters(int n)
        {
            for (var i = 0; i < n; i++)
            {
                await Task.Yield();
                yield return new string('a', i + 1);
            }
        }

        var printed = new List<string>();

        await JobQueue.RunAsync([1, 3], Workers.Of<int>().ThenMany(Letters).Then(printed.Add)).Within();

        CollectionAssert.AreEqual(new[] { "a", "a", "aa", "aaa" }, printed);
    }

    /// <summary>
    /// Under keepOrder with several threads, Dataflow decides when a call's outputs start whether they go on at once or
    /// wait for the calls before it; a generator must never wait for room in the next queue for outputs Dataflow holds.
    /// </summary>
    [TestMethod]
    public async Task ThenMany_ShortGeneratorsUnderKeepOrderWithQueuesOfOne_NeverHang()
    {
        static IEnumerable<int> Gen(int x)
        {
            yield return x * 10;
            yield return (x * 10) + 1;
            yield return (x * 10) + 2;
        }

        for (var attempt = 0; attempt < 20; attempt++)
        {
            var collected = new List<int>();
            var workers = Workers.Of<int>().ThenMany(Gen, threads: 3).Then(x => x, threads: 2).Then(collected.Add);

            await JobQueue.RunAsync(Enumerable.Range(0, 300), workers, new JobOptions { KeepOrder = true, QueueSize = 1 }).Within();

            CollectionAssert.AreEqual(Enumerable.Range(0, 300).SelectMany(Gen).ToArray(), collected, $"attempt {attempt}");
        }
    }

    /// <summary>
    /// A generator that waits for room in the stream's last queue is let go when the consumer stops reading: its
    /// enumerator is disposed and its thread freed, not left waiting for room that never comes.
    /// </summary>
    [TestMethod]
    public async Task StreamAsync_AbandonedWhileAGeneratorWaitsForRoom_TheGeneratorIsDisposed()
    {
        var disposed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        IEnumerable<int> Gen(int x)
        {
            try
            {
                for (var k = 0; k < 1_000; k++)
                {
                    yield return (x * 1_000) + k;
                }
            }
            finally
            {
                disposed.TrySetResult();
            }
        }

        var stream = JobQueue.StreamAsync([1], Workers.Of<int>().ThenMany(Gen), new JobOptions { QueueSize = 1 });
        await foreach (var item in stream.WithCancellation(CancellationToken.None))
        {
            break;
        }

        await disposed.Task.Within();
    }

    /// <summary>
    /// A block cancelled while its generators stream: the block ends Canceled, and every generator that started is
    /// disposed (its <c>finally</c> runs), none is left suspended.
    /// </summary>
    [TestMethod]
    public async Task CreateBlock_CancelledWhileGeneratorsStream_EndsCanceledAndDisposesEveryGenerator()
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            long started = 0, ended = 0;

            IEnumerable<int> Gen(int x)
            {
                Interlocked.Increment(ref started);
                try
                {
                    for (var k = 0; k < 3; k++)
                    {
                        yield return (x * 4) + k;
                    }
                }
                finally
                {
                    Interlocked.Increment(ref ended);
                }
            }

            using var cancel = new CancellationTokenSource();
            var block = JobQueue.CreateBlock(Workers.Of<int>().ThenMany(Gen, threads: 4), new JobOptions { QueueSize = 2 }, cancel.Token);
            var received = 0;
            var sink = new ActionBlock<int>(_ =>
            {
                if (Interlocked.Increment(ref received) == 20)
                {
                    cancel.Cancel();
                }
            });
            block.LinkTo(sink, new DataflowLinkOptions { PropagateCompletion = true });
            for (var i = 0; i < 400 && !cancel.IsCancellationRequested; i++)
            {
                await block.SendAsync(i).Within();
            }

            cancel.Cancel();
            await Assert.ThrowsAsync<OperationCanceledException>(() => block.Completion.Within(), $"attempt {attempt}");
            Bounded.Until(() => Interlocked.Read(ref ended) == Interlocked.Read(ref started), $"every generator disposed (attempt {attempt}, {started} started, {ended} ended)");
        }
    }

    [TestMethod]
    public async Task ThenMany_LargeGeneratorsUnderKeepOrderWithSmallQueues_OrderKept()
    {
        // Each call yields far more than a run or a queue holds, so lanes that are not the head must wait for their turn mid-call.
        static IEnumerable<int> Gen(int x)
        {
            for (var k = 0; k < 300; k++)
            {
                yield return (x * 1000) + k;
            }
        }

        var collected = new List<int>();

        await JobQueue.RunAsync(Enumerable.Range(0, 20), Workers.Of<int>().ThenMany(Gen, threads: 3).Then(collected.Add), new JobOptions { KeepOrder = true, QueueSize = 8 }).Within();

        CollectionAssert.AreEqual(Enumerable.Range(0, 20).SelectMany(Gen).ToArray(), collected);
    }

    [TestMethod]
    public async Task ThenMany_LargeAsyncGeneratorsUnderKeepOrderWithSmallQueues_OrderKept()
    {
        static async IAsyncEnumerable<int> Gen(int x)
        {
            for (var k = 0; k < 300; k++)
            {
                if (k % 50 == 0)
                {
                    await Task.Yield();
                }

                yield return (x * 1000) + k;
            }
        }

        var collected = new List<int>();

        await JobQueue.RunAsync(Enumerable.Range(0, 20), Workers.Of<int>().ThenMany(Gen, threads: 3).Then(collected.Add), new JobOptions { KeepOrder = true, QueueSize = 8 }).Within();

        CollectionAssert.AreEqual(Enumerable.Range(0, 20).SelectMany(x => Enumerable.Range(0, 300).Select(k => (x * 1000) + k)).ToArray(), collected);
    }

    [TestMethod]
    public async Task ThenMany_LargeGeneratorsWithDispatcherAndSmallQueues_OrderKept()
    {
        static IEnumerable<int> Gen(int x)
        {
            for (var k = 0; k < 100; k++)
            {
                yield return (x * 1000) + k;
            }
        }

        var collected = new List<int>();

        await JobQueue.RunAsync(Enumerable.Range(0, 30), Workers.Of<int>().ThenMany(Gen, threads: 3, dispatcher: x => x).Then(collected.Add), new JobOptions { QueueSize = 4 }).Within();

        CollectionAssert.AreEqual(Enumerable.Range(0, 30).SelectMany(Gen).ToArray(), collected);
    }

    [TestMethod]
    public async Task ThenMany_AsyncGeneratorWithTokenUnderKeepOrder_GroupsStayTogether()
    {
        static async IAsyncEnumerable<int> Gen(int x, [EnumeratorCancellation] CancellationToken ct)
        {
            for (var k = 0; k < 3; k++)
            {
                await Task.Delay(Random.Shared.Next(0, 2), ct);
                yield return (x * 10) + k;
            }
        }

        var collected = new List<int>();

        await JobQueue.RunAsync(Enumerable.Range(0, 40), Workers.Of<int>().ThenMany(Gen, threads: 4).Then(collected.Add), new JobOptions { KeepOrder = true }).Within();

        CollectionAssert.AreEqual(Enumerable.Range(0, 40).SelectMany(x => new[] { x * 10, (x * 10) + 1, (x * 10) + 2 }).ToArray(), collected);
    }

    [TestMethod]
    public async Task ThenMany_AsyncGeneratorThrowsMidway_ElementsBeforeGoOn()
    {
        static async IAsyncEnumerable<int> Gen(int x)
        {
            await Task.Yield();
            yield return x * 10;
            if (x == 1)
            {
                throw new InvalidOperationException("midway");
            }

            yield return (x * 10) + 1;
        }

        var printed = new List<int>();

        var result = await JobQueue.RunAsync([0, 1, 2], Workers.Of<int>().ThenMany(Gen).Then(printed.Add)).Within();

        CollectionAssert.AreEqual(new[] { 0, 1, 10, 20, 21 }, printed);
        Assert.AreEqual(1, result.Stats.Stages[0].Failed);
    }

    [TestMethod]
    public async Task ThenMany_AsyncGeneratorOnTimeout_SeesTokenCancelled()
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async IAsyncEnumerable<int> Gen(int x, [EnumeratorCancellation] CancellationToken ct)
        {
            yield return x;
            using var registration = ct.Register(() => cancelled.TrySetResult());
            started.TrySetResult();
            await Task.Delay(Bounded.Limit, ct);
            yield return x + 1;
        }

        var clock = new SignallingTimeProvider();
        var printed = new ConcurrentQueue<int>();

        var run = JobQueue.RunAsync([7], Workers.Of<int>().ThenMany(Gen).Then(printed.Enqueue), new JobOptions { Timeout = TimeSpan.FromSeconds(1), TimeProvider = clock });
        await started.Task.Within();
        clock.Advance(TimeSpan.FromSeconds(1));
        var result = await run.Within();
        await cancelled.Task.Within();

        Assert.IsTrue(result.TimedOut);
        Assert.DoesNotContain(8, printed);
    }

    [TestMethod]
    public async Task ThenMany_AsyncGeneratorIgnoringItsTokenWhenTheTimeoutPasses_IsCutOffBetweenOutputsAndDisposed()
    {
        // As a sync generator is: a stop cuts the call off between outputs, so one that never ends, or never looks at
        // its token, neither runs on after the run returned nor piles up outputs that are discarded anyway.
        var produced = 0;
        var disposed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var clock = new SignallingTimeProvider();
        var probe = new Probe();

        async IAsyncEnumerable<int> Endless(int x)
        {
            try
            {
                while (true)
                {
                    await Task.Yield();
                    Interlocked.Increment(ref produced);
                    yield return x;
                }
            }
            finally
            {
                disposed.TrySetResult();
            }
        }

        var workers = Workers.Of<int>().ThenMany((int x) => Endless(x)).Then(_ => { });
        var run = JobQueue.RunAsync([1], workers, new JobOptions { Timeout = TimeSpan.FromSeconds(1), TimeProvider = clock, Probe = probe });
        Bounded.Until(() => Volatile.Read(ref produced) > 0, "the generator to produce");
        clock.Advance(TimeSpan.FromSeconds(1));
        var result = await run.Within();

        Assert.IsTrue(result.TimedOut);
        await disposed.Task.Within();
        Bounded.Until(() => JobQueue.Stat(probe).Doing == 0, "the cut-off call to end");
        var afterEnd = Volatile.Read(ref produced);
        Assert.AreEqual(afterEnd, Volatile.Read(ref produced), "the generator produced after its call ended");
    }

    [TestMethod]
    public void Then_WorkerReturningAGenerator_RefusedWithThenManyInTheMessage()
    {
        // jobq expands a generator worker; Then would pass each sequence on as one item, unexpanded, and a yield
        // iterator would not even run: the likeliest slip of a port, refused when the stage is added.
        static IEnumerable<string> Split(string line)
        {
            foreach (var word in line.Split(' '))
            {
                yield return word;
            }
        }

        static async IAsyncEnumerable<string> SplitAsync(string line)
        {
            await Task.Yield();
            yield return line;
        }

        var sync = Assert.ThrowsExactly<ArgumentException>(() => Workers.Of<string>().Then(Split));
        var async = Assert.ThrowsExactly<ArgumentException>(() => Workers.Of<string>().Then(SplitAsync));

        foreach (var error in new[] { sync, async })
        {
            Assert.Contains("Stage 0", error.Message);
            Assert.Contains("ThenMany", error.Message);
            Assert.Contains("List<String>", error.Message);
        }
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task ThenMany_GeneratorWhoseEnumeratorDisposalThrows_EachItemFailsAndTheRunGoesOn(bool keepOrder)
    {
        // The disposal is part of the worker's call, as in a foreach: its failure is the item's, logged and counted,
        // never the block's.
        var logger = LoggerMock.Create();
        var passed = 0;

        var result = await JobQueue.RunAsync(
            Enumerable.Range(0, 10),
            Workers.Of<int>().ThenMany(x => new DisposeThrows(3)).Then(x => { Interlocked.Increment(ref passed); }),
            new JobOptions { Logger = logger.Object, KeepOrder = keepOrder }).Within();

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(10, result.Stats.Stages[0].Failed);
        Assert.AreEqual(0, result.Stats.Stages[0].Doing);
        logger.VerifyLogged<InvalidOperationException>(LogLevel.Error, Times.Exactly(10));
        logger.VerifyNotLogged(LogLevel.Critical);
    }

    /// <summary>A sequence of <c>count</c> zeros whose enumerator throws when disposed.</summary>
    private sealed class DisposeThrows(int count) : IEnumerable<int>
    {
        public IEnumerator<int> GetEnumerator() => new Enumerator(count);

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        private sealed class Enumerator(int count) : IEnumerator<int>
        {
            private int _left = count;

            public int Current => 0;

            object System.Collections.IEnumerator.Current => Current;

            public bool MoveNext() => _left-- > 0;

            public void Reset() => throw new NotSupportedException();

            public void Dispose() => throw new InvalidOperationException("enumerator disposal failed");
        }
    }

    [TestMethod]
    public async Task ThenMany_CheapStreamingGenerator_RunsGrowLongerThanOneItemAndStayOnDedicatedThreads()
    {
        // A streaming generator is measured as any stage is, so that cheap calls share a message instead of paying a
        // hand-off each; it stays on dedicated threads, since it blocks for room in the next queue.
        var threadNames = new ConcurrentDictionary<string, bool>();
        static IEnumerable<int> Pair(int x)
        {
            yield return x;
            yield return -x;
        }

        var workers = Workers.Of<int>().ThenMany((int x) =>
        {
            threadNames.TryAdd(Thread.CurrentThread.Name ?? "(pool)", true);
            return Pair(x);
        }).Then(x => { });
        var options = new JobOptions { Logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance }.Validated("options");
        var built = JobQ.Dataflow.Internal.PipelineBuilder.Build(workers, options, resizable: false, tail: false);
        built.Pipeline.Start(built.LastCompletion);
        JobQ.Dataflow.Internal.InputFeeder<int>.Start(Enumerable.Range(0, 50_000), built.Pipeline, built.Head);
        await built.Pipeline.Finished.Within();

        Assert.IsGreaterThan(1, ((JobQ.Dataflow.Internal.Stage<int>)built.Pipeline.Stages[0]).RunLength.Preferred, "the generator's runs stayed at one item");
        CollectionAssert.AreEqual(new[] { "JobQ stage0" }, threadNames.Keys.ToArray(), $"every call on the stage's dedicated threads: {string.Join(", ", threadNames.Keys)}");
    }
}
