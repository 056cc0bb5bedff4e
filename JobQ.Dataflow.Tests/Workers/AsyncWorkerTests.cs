using System.Collections.Concurrent;
using JobQ.Dataflow.Tests.Support;

// Not "...Tests.Workers": a namespace of that name would hide the JobQ.Dataflow.Workers class from every test.
namespace JobQ.Dataflow.Tests.StageWorkers;

/// <summary>Async worker forms: Task, ValueTask, with and without the run's token, EmptyRst, plain Task actions, concurrency.</summary>
[TestClass]
public sealed class AsyncWorkerTests
{
    private static async Task<int> Add1Async(int x)
    {
        await Task.Yield();
        return x + 1;
    }

    private static async ValueTask<int> Multi2Async(int x)
    {
        await Task.Yield();
        return x * 2;
    }

    [TestMethod]
    public async Task Then_TaskWorkerMethodGroup_ResultIsAwaitedAndPassedOn()
    {
        var printed = new List<int>();

        await JobQueue.RunAsync([0, 1, 2], Workers.Of<int>().Then(Add1Async).Then(printed.Add)).Within();

        CollectionAssert.AreEqual(new[] { 1, 2, 3 }, printed);
    }

    [TestMethod]
    public async Task Then_AsyncLambda_ResultIsAwaitedNotPassedAsTask()
    {
        var printed = new List<int>();

        await JobQueue.RunAsync([0, 1, 2], Workers.Of<int>().Then(async x => { await Task.Yield(); return x + 10; }).Then(printed.Add)).Within();

        CollectionAssert.AreEqual(new[] { 10, 11, 12 }, printed);
    }

    [TestMethod]
    public async Task Then_ValueTaskWorker_ResultIsPassedOn()
    {
        var printed = new List<int>();

        await JobQueue.RunAsync([0, 1, 2], Workers.Of<int>().Then(Multi2Async).Then(printed.Add)).Within();

        CollectionAssert.AreEqual(new[] { 0, 2, 4 }, printed);
    }

    [TestMethod]
    public async Task Then_SynchronouslyCompletedValueTask_ResultIsPassedOn()
    {
        var printed = new List<int>();

        await JobQueue.RunAsync([1, 2, 3], Workers.Of<int>().Then(x => new ValueTask<int>(x * 3)).Then(printed.Add)).Within();

        CollectionAssert.AreEqual(new[] { 3, 6, 9 }, printed);
    }

    [TestMethod]
    public async Task Then_TaskWorkerWithToken_ReceivesTheRunsLiveToken()
    {
        var tokens = new ConcurrentBag<CancellationToken>();
        var printed = new List<string>();
        var workers = Workers.Of<int>()
            .Then(async (int x, CancellationToken ct) =>
            {
                tokens.Add(ct);
                await Task.Delay(1, ct);
                return $"#{x}";
            })
            .Then(printed.Add);

        await JobQueue.RunAsync([1, 2], workers).Within();

        CollectionAssert.AreEqual(new[] { "#1", "#2" }, printed);
        Assert.HasCount(2, tokens);
        foreach (var token in tokens)
        {
            Assert.IsTrue(token.CanBeCanceled, "the worker must receive the run's token, not CancellationToken.None");
            Assert.IsFalse(token.IsCancellationRequested);
        }
    }

    [TestMethod]
    public async Task Then_ValueTaskWorkerWithToken_ReceivesTheRunsToken()
    {
        var canBeCanceled = new ConcurrentBag<bool>();
        var printed = new List<int>();
        var workers = Workers.Of<int>()
            .Then((int x, CancellationToken ct) =>
            {
                canBeCanceled.Add(ct.CanBeCanceled);
                return new ValueTask<int>(x - 1);
            })
            .Then(printed.Add);

        await JobQueue.RunAsync([1, 2, 3], workers).Within();

        CollectionAssert.AreEqual(new[] { 0, 1, 2 }, printed);
        Assert.IsTrue(canBeCanceled.All(c => c));
    }

    [TestMethod]
    public async Task Then_AsyncWorkerReturnsEmptyRst_ItemDroppedAndCounted()
    {
        var printed = new List<int>();
        var workers = Workers.Of<int>()
            .Then(async (int x, CancellationToken ct) =>
            {
                await Task.Yield();
                return x % 2 == 0 ? JobQueue.EmptyRst : new WorkerResult<int>(x);
            })
            .Then(printed.Add);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 10), workers).Within();

        CollectionAssert.AreEqual(new[] { 1, 3, 5, 7, 9 }, printed);
        Assert.AreEqual(5, result.Stats.Stages[0].Dropped);
    }

    [TestMethod]
    public async Task Then_PlainTaskAction_AwaitedThenItemPassedOnUnchanged()
    {
        var awaited = new ConcurrentQueue<int>();
        var printed = new List<int>();
        var workers = Workers.Of<int>()
            .Then(async x =>
            {
                await Task.Yield();
                awaited.Enqueue(x);
            })
            .Then(printed.Add);

        await JobQueue.RunAsync([4, 5, 6], workers).Within();

        CollectionAssert.AreEqual(new[] { 4, 5, 6 }, awaited.ToArray());
        CollectionAssert.AreEqual(new[] { 4, 5, 6 }, printed);
    }

    [TestMethod]
    public async Task Then_PlainTaskActionWithToken_AsLastStageIsAwaited()
    {
        var awaited = new ConcurrentBag<int>();
        var workers = Workers.Of<int>()
            .Then(async (int x, CancellationToken ct) =>
            {
                await Task.Delay(1, ct);
                awaited.Add(x);
            });

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 20), workers).Within();

        Assert.IsTrue(result.Completed);
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 20).ToArray(), awaited.ToArray());
    }

    [TestMethod]
    public async Task Then_AsyncWorkerWithThreads_ThatManyCallsAwaitedAtOnce()
    {
        const int threads = 5;
        var allIn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inside = 0;
        var printed = new ConcurrentBag<int>();
        var workers = Workers.Of<int>()
            .Then(async x =>
            {
                if (Interlocked.Increment(ref inside) == threads)
                {
                    allIn.TrySetResult();
                }

                // Every call waits until all five are in: this completes only if five calls overlap.
                await allIn.Task.WaitAsync(Bounded.Limit);
                return x;
            }, threads: threads)
            .Then(printed.Add);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, threads), workers).Within();

        Assert.IsTrue(result.Completed);
        CollectionAssert.AreEquivalent(Enumerable.Range(0, threads).ToArray(), printed.ToArray());
        Assert.AreEqual(0, result.Stats.Stages[0].Failed);
    }

    [TestMethod]
    public async Task Then_ManyAsyncCallsHeldAtOnce_NoThreadIsBlockedPerCall()
    {
        // 200 calls awaiting at once would need 200 threads if each held one; the pool could not grow that fast.
        const int threads = 200;
        var allIn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inside = 0;
        var workers = Workers.Of<int>()
            .Then(async x =>
            {
                if (Interlocked.Increment(ref inside) == threads)
                {
                    allIn.TrySetResult();
                }

                await allIn.Task.WaitAsync(Bounded.Limit);
                return x;
            }, threads: threads);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, threads), workers).Within();

        Assert.AreEqual(0, result.Stats.Stages[0].Failed);
        Assert.AreEqual(threads, result.Stats.Stages[0].Out);
    }

    [TestMethod]
    public async Task Then_AsyncStagesUnderKeepOrderWithRandomDelays_ExactOrder()
    {
        var printed = new List<int>();
        var workers = Workers.Of<int>()
            .Then(async x =>
            {
                await Task.Delay(Random.Shared.Next(0, 3));
                return x + 1;
            }, threads: 8)
            .Then(printed.Add);

        await JobQueue.RunAsync(Enumerable.Range(0, 200), workers, new JobOptions { KeepOrder = true }).Within();

        CollectionAssert.AreEqual(Enumerable.Range(1, 200).ToArray(), printed);
    }

    [TestMethod]
    public async Task Then_AsyncWorkerAwaitsTasksAThreadOfTheUsersCompletes_NoLaterCallRunsOnThatThread()
    {
        // As in a TransformBlock: a thread that completes a worker's task (a socket reader, a message pump) gets back
        // at once; the stage's next calls do not run on it.
        using var pending = new BlockingCollection<TaskCompletionSource<int>>();
        var completer = new Thread(() =>
        {
            foreach (var call in pending.GetConsumingEnumerable())
            {
                call.SetResult(1);
            }
        })
        { IsBackground = true };
        completer.Start();
        var onCompleter = 0;
        var workers = Workers.Of<int>().Then(async x =>
        {
            if (Thread.CurrentThread == completer)
            {
                Interlocked.Increment(ref onCompleter);
            }

            var call = new TaskCompletionSource<int>();
            pending.Add(call);
            return await call.Task + x;
        });

        JobRunResult result;
        try
        {
            result = await JobQueue.RunAsync(Enumerable.Range(0, 2000), workers).Within();
        }
        finally
        {
            // Lets the completer thread end before the collection is disposed, even when the run did not.
            pending.CompleteAdding();
        }

        Assert.AreEqual(2000, result.Stats.Stages[0].Out);
        Assert.AreEqual(0, onCompleter, "calls that started on the thread that completed the previous call's task");
    }
}
