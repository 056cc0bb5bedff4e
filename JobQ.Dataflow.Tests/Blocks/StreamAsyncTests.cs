using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Blocks;

[TestClass]
public sealed class StreamAsyncTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task StreamAsync_KeepOrder_YieldsLastStageOutputsInInputOrder()
    {
        var outputs = new List<int>();
        await foreach (var x in JobQueue.StreamAsync(Enumerable.Range(0, 10_000), Workers.Of<int>().Then(x => x + 1, threads: 4).Then(x => x * 2), new JobOptions { KeepOrder = true }))
        {
            outputs.Add(x);
        }

        CollectionAssert.AreEqual(Enumerable.Range(0, 10_000).Select(i => (i + 1) * 2).ToList(), outputs);
    }

    [TestMethod]
    public async Task StreamAsync_ConsumerStopsEarly_StopsTheRun()
    {
        var probe = new Probe();
        var read = 0;
        await foreach (var x in JobQueue.StreamAsync(Enumerable.Range(0, 1_000_000), Workers.Of<int>().Then(x => x), new JobOptions { Probe = probe, QueueSize = 16 }))
        {
            if (++read == 10)
            {
                break;
            }
        }

        var afterBreak = JobQueue.Stat(probe).In;
        Assert.IsLessThan(1_000_000L, afterBreak);
        Assert.AreEqual(0L, JobQueue.Stat(probe).Doing);
    }

    [TestMethod]
    public async Task StreamAsync_Cancelled_ThrowsOperationCanceled()
    {
        using var cts = new CancellationTokenSource();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stream = JobQueue.StreamAsync(Enumerable.Range(0, 100), Workers.Of<int>().Then(async (int x, CancellationToken ct) =>
        {
            await gate.Task.WaitAsync(ct);
            return x;
        }), cancellationToken: cts.Token);

        var consume = Task.Run(async () =>
        {
            await foreach (var _ in stream)
            {
            }
        });
        cts.Cancel();

        await Assert.ThrowsAsync<OperationCanceledException>(() => consume.WaitAsync(Bound));
    }

    [TestMethod]
    public async Task StreamAsync_CancelledWithEveryOutputBuffered_NextMoveNextThrowsOperationCanceled()
    {
        var probe = new Probe();
        using var cts = new CancellationTokenSource();
        var stream = JobQueue.StreamAsync(Enumerable.Range(0, 10), Workers.Of<int>().Then(x => x), new JobOptions { Probe = probe, KeepOrder = true }, cts.Token);
        await using var outputs = stream.GetAsyncEnumerator();

        Assert.IsTrue(await outputs.MoveNextAsync().AsTask().Within());
        Assert.AreEqual(0, outputs.Current);
        Bounded.Until(() => JobQueue.Stat(probe).Stages[0].Out == 10, "every output to wait in the stream");
        await cts.CancelAsync();

        var thrown = await Assert.ThrowsAsync<OperationCanceledException>(() => outputs.MoveNextAsync().AsTask().Within());
        Assert.AreEqual(cts.Token, thrown.CancellationToken);
    }

    [TestMethod]
    public async Task StreamAsync_CancelledWhileProducerSlow_NextMoveNextThrowsOperationCanceled()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var cts = new CancellationTokenSource();
        var workers = Workers.Of<int>().Then(async (int x, CancellationToken ct) =>
        {
            if (x > 0)
            {
                await release.Task.WaitAsync(ct);
            }

            return x;
        });
        await using var outputs = JobQueue.StreamAsync(Enumerable.Range(0, 10), workers, new JobOptions { KeepOrder = true }, cts.Token).GetAsyncEnumerator();

        Assert.IsTrue(await outputs.MoveNextAsync().AsTask().Within());
        Assert.AreEqual(0, outputs.Current);
        await cts.CancelAsync();

        await Assert.ThrowsAsync<OperationCanceledException>(() => outputs.MoveNextAsync().AsTask().Within());
        release.TrySetResult();
    }

    [TestMethod]
    public async Task StreamAsync_TimeoutWithEveryOutputBuffered_NextMoveNextThrowsTimeout()
    {
        var clock = new ObservableTimeProvider();
        var probe = new Probe();
        var options = new JobOptions { Probe = probe, KeepOrder = true, Timeout = TimeSpan.FromSeconds(1), TimeProvider = clock };
        await using var outputs = JobQueue.StreamAsync(Enumerable.Range(0, 10), Workers.Of<int>().Then(x => x), options).GetAsyncEnumerator();

        Assert.IsTrue(await outputs.MoveNextAsync().AsTask().Within());
        Assert.AreEqual(0, outputs.Current);
        Bounded.Until(() => JobQueue.Stat(probe).Stages[0].Out == 10, "every output to wait in the stream");
        await clock.TimerCreated.Within();
        clock.Advance(TimeSpan.FromSeconds(1));

        await Assert.ThrowsExactlyAsync<TimeoutException>(() => outputs.MoveNextAsync().AsTask().Within());
    }

    [TestMethod]
    public async Task StreamAsync_TimeoutWhileProducerSlow_PendingMoveNextThrowsTimeout()
    {
        var clock = new ObservableTimeProvider();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var workers = Workers.Of<int>().Then(async (int x, CancellationToken ct) =>
        {
            if (x > 0)
            {
                await release.Task.WaitAsync(ct);
            }

            return x;
        });
        var options = new JobOptions { KeepOrder = true, Timeout = TimeSpan.FromSeconds(1), TimeProvider = clock };
        await using var outputs = JobQueue.StreamAsync(Enumerable.Range(0, 10), workers, options).GetAsyncEnumerator();

        Assert.IsTrue(await outputs.MoveNextAsync().AsTask().Within());
        var next = outputs.MoveNextAsync().AsTask();
        await clock.TimerCreated.Within();
        clock.Advance(TimeSpan.FromSeconds(1));

        await Assert.ThrowsExactlyAsync<TimeoutException>(() => next.Within());
        release.TrySetResult();
    }

    [TestMethod]
    public async Task StreamAsync_TokenAlreadyCancelled_FirstMoveNextThrowsOperationCanceledAndNoInputRead()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        var input = new CountingEnumerable(10);

        await using var outputs = JobQueue.StreamAsync(input, Workers.Of<int>().Then(x => x), cancellationToken: cts.Token).GetAsyncEnumerator();

        await Assert.ThrowsAsync<OperationCanceledException>(() => outputs.MoveNextAsync().AsTask().Within());
        Assert.AreEqual(0, input.Enumerations);
    }

    [TestMethod]
    public async Task StreamAsync_NotEnumerated_StartsNoWork()
    {
        var input = new CountingEnumerable(10);

        var stream = JobQueue.StreamAsync(input, Workers.Of<int>().Then(x => x));
        await using (var outputs = stream.GetAsyncEnumerator())
        {
            Assert.AreEqual(0, input.Enumerations, "work starts at the first MoveNextAsync");
            Assert.IsTrue(await outputs.MoveNextAsync().AsTask().Within());
        }

        Assert.AreEqual(1, input.Enumerations);
    }

    [TestMethod]
    public async Task StreamAsync_InputThrows_YieldsTheOutputsOfItemsReadBeforeThenThrowsThatException()
    {
        var broken = new InvalidOperationException("input broke");
        IEnumerable<int> Input()
        {
            yield return 0;
            yield return 1;
            throw broken;
        }

        var outputs = new List<int>();
        var thrown = await Assert.ThrowsExactlyAsync<InvalidOperationException>(async () =>
        {
            await foreach (var x in JobQueue.StreamAsync(Input(), Workers.Of<int>().Then(x => x * 10), new JobOptions { KeepOrder = true, Logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance }).WithCancellation(CancellationToken.None))
            {
                outputs.Add(x);
            }
        }).Within();

        Assert.AreSame(broken, thrown);
        CollectionAssert.AreEqual(new[] { 0, 10 }, outputs);
    }

    [TestMethod]
    public void StreamAsync_EmptyWorkerList_ThrowsBeforeEnumerating()
        => Assert.ThrowsExactly<ArgumentException>(() => JobQueue.StreamAsync(new[] { 1 }, Workers.Of<int>()));

    [TestMethod]
    public async Task StreamAsync_KeepOrderWorkerThrows_YieldsTheOthersInOrderAndReportsFailures()
    {
        var failures = new System.Collections.Concurrent.ConcurrentQueue<JobFailure>();
        var outputs = new List<int>();
        var workers = Workers.Of<int>().Then(x => x % 10 == 9 ? throw new InvalidOperationException("ninth") : x, threads: 3);

        await foreach (var x in JobQueue.StreamAsync(Enumerable.Range(0, 1000), workers, new JobOptions { KeepOrder = true, ErrorPolicy = ErrorPolicy.Handle(failures.Enqueue) }).WithCancellation(CancellationToken.None))
        {
            outputs.Add(x);
        }

        CollectionAssert.AreEqual(Enumerable.Range(0, 1000).Where(x => x % 10 != 9).ToList(), outputs);
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 100).Select(i => (object)((10 * i) + 9)).ToList(), failures.Select(f => f.Item).ToList());
    }
}
