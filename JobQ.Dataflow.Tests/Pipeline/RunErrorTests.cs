using System.Collections.Concurrent;
using JobQ.Dataflow.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;

namespace JobQ.Dataflow.Tests.Pipeline;

/// <summary>Worker and input failures: logged with the stage name, item dropped, the run goes on, order kept; a failing input is rethrown.</summary>
[TestClass]
public sealed class RunErrorTests
{
    private static readonly InvalidOperationException Boom = new("boom");

    private static int ThrowOnThree(int x) => x == 3 ? throw Boom : x;

    [TestMethod]
    public async Task Run_SyncWorkerThrows_LoggedWithStageNameItemDroppedRunGoesOn()
    {
        var logger = LoggerMock.Create();
        var printed = new ConcurrentBag<int>();
        var workers = Workers.Of<int>().Then(ThrowOnThree).Then(printed.Add);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 6), workers, new JobOptions { Logger = logger.Object }).Within();

        Assert.IsTrue(result.Completed);
        CollectionAssert.AreEquivalent(new[] { 0, 1, 2, 4, 5 }, printed.ToArray());
        logger.VerifyLogged(LogLevel.Error, "RunErrorTests.ThrowOnThree", Boom, Times.Once());
        Assert.AreEqual(1, result.Stats.Stages[0].Failed);
        Assert.AreEqual(6, result.Stats.Stages[0].Out);
        Assert.AreEqual(5, result.Stats.Stages[1].In);
    }

    [TestMethod]
    public async Task Run_NamedStageThrows_LogMessageNamesTheStage()
    {
        var logger = LoggerMock.Create();
        var workers = Workers.Of<int>().Then(x => x == 1 ? throw Boom : x, name: "parse-orders").Then(_ => { });

        await JobQueue.RunAsync(Enumerable.Range(0, 3), workers, new JobOptions { Logger = logger.Object }).Within();

        logger.VerifyLogged(LogLevel.Error, "parse-orders", Boom, Times.Once());
    }

    [TestMethod]
    public async Task Run_AsyncWorkerReturnsFaultedTask_LoggedAndDropped()
    {
        var logger = LoggerMock.Create();
        var printed = new ConcurrentBag<int>();
        var workers = Workers.Of<int>()
            .Then(x => x % 4 == 0 ? Task.FromException<int>(Boom) : Task.FromResult(x), threads: 2, name: "faulty")
            .Then(printed.Add);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 12), workers, new JobOptions { Logger = logger.Object }).Within();

        CollectionAssert.AreEquivalent(Enumerable.Range(0, 12).Where(x => x % 4 != 0).ToArray(), printed.ToArray());
        logger.VerifyLogged(LogLevel.Error, "faulty", Boom, Times.Exactly(3));
        Assert.AreEqual(3, result.Stats.Stages[0].Failed);
    }

    [TestMethod]
    public async Task Run_AsyncWorkerThrowsAfterAwait_LoggedAndDropped()
    {
        var logger = LoggerMock.Create();
        var printed = new ConcurrentBag<int>();
        var workers = Workers.Of<int>()
            .Then(async (int x, CancellationToken ct) =>
            {
                await Task.Yield();
                return x == 2 ? throw Boom : x;
            }, name: "late")
            .Then(printed.Add);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 5), workers, new JobOptions { Logger = logger.Object }).Within();

        CollectionAssert.AreEquivalent(new[] { 0, 1, 3, 4 }, printed.ToArray());
        logger.VerifyLogged(LogLevel.Error, "late", Boom, Times.Once());
        Assert.AreEqual(1, result.Stats.Stages[0].Failed);
    }

    [TestMethod]
    public async Task Run_WorkerThrowsItsOwnOperationCanceled_CountedAsFailureNotAsStop()
    {
        var logger = LoggerMock.Create();
        var own = new OperationCanceledException("the worker's own");
        var printed = new ConcurrentBag<int>();
        var workers = Workers.Of<int>()
            .Then(async (int x, CancellationToken ct) =>
            {
                await Task.Yield();
                return x == 1 ? throw own : x;
            }, name: "cancelling")
            .Then(printed.Add);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 4), workers, new JobOptions { Logger = logger.Object }).Within();

        Assert.IsTrue(result.Completed);
        CollectionAssert.AreEquivalent(new[] { 0, 2, 3 }, printed.ToArray());
        logger.VerifyLogged(LogLevel.Error, "cancelling", own, Times.Once());
        Assert.AreEqual(1, result.Stats.Stages[0].Failed);
    }

    [TestMethod]
    public async Task Run_GeneratorThrowsMidway_ItemsYieldedBeforeGoOn()
    {
        static IEnumerable<int> Gen(int i)
        {
            yield return i * 10;
            yield return (i * 10) + 1;
            if (i == 2)
            {
                throw Boom;
            }

            yield return (i * 10) + 2;
        }

        var logger = LoggerMock.Create();
        var printed = new List<int>();
        var workers = Workers.Of<int>().ThenMany(Gen, name: "gen").Then(printed.Add);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 4), workers, new JobOptions { Logger = logger.Object }).Within();

        CollectionAssert.AreEqual(new[] { 0, 1, 2, 10, 11, 12, 20, 21, 30, 31, 32 }, printed);
        logger.VerifyLogged(LogLevel.Error, "gen", Boom, Times.Once());
        Assert.AreEqual(1, result.Stats.Stages[0].Failed);
    }

    [TestMethod]
    public async Task Run_GeneratorThrowsMidwayUnderKeepOrderWithThreads_NoGapNoReorder()
    {
        static IEnumerable<int> Gen(int i)
        {
            yield return i * 10;
            Thread.SpinWait(Random.Shared.Next(0, 3_000)); // workload
            yield return (i * 10) + 1;
            if (i % 5 == 2)
            {
                throw Boom;
            }

            yield return (i * 10) + 2;
        }

        var printed = new List<int>();
        var workers = Workers.Of<int>().ThenMany(Gen, threads: 3).Then(printed.Add);

        await JobQueue.RunAsync(Enumerable.Range(0, 200), workers, new JobOptions { KeepOrder = true }).Within();

        var expected = Enumerable.Range(0, 200).SelectMany(i => i % 5 == 2 ? new[] { i * 10, (i * 10) + 1 } : new[] { i * 10, (i * 10) + 1, (i * 10) + 2 }).ToArray();
        CollectionAssert.AreEqual(expected, printed);
    }

    [TestMethod]
    public async Task Run_ThrowingWorkerUnderKeepOrderWithThreads_NoGapNoReorder()
    {
        var logger = LoggerMock.Create();
        var printed = new List<int>();
        var workers = Workers.Of<int>()
            .Then(x =>
            {
                Thread.SpinWait(Random.Shared.Next(0, 3_000)); // workload
                return x % 7 == 0 ? throw Boom : x;
            }, threads: 3, name: "sevens")
            .Then(x => x + 1, threads: 2)
            .Then(printed.Add);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 700), workers, new JobOptions { KeepOrder = true, Logger = logger.Object }).Within();

        CollectionAssert.AreEqual(Enumerable.Range(0, 700).Where(x => x % 7 != 0).Select(x => x + 1).ToArray(), printed);
        logger.VerifyLogged(LogLevel.Error, "sevens", Boom, Times.Exactly(100));
        Assert.AreEqual(100, result.Stats.Stages[0].Failed);
    }

    [TestMethod]
    public async Task Run_LoggerThrows_RunStillCompletes()
    {
        var logger = LoggerMock.Create();
        logger.Setup(l => l.Log(
                It.IsAny<LogLevel>(),
                It.IsAny<EventId>(),
                It.IsAny<It.IsAnyType>(),
                It.IsAny<Exception?>(),
                It.IsAny<Func<It.IsAnyType, Exception?, string>>()))
            .Throws(new InvalidOperationException("broken logger"));
        var printed = new ConcurrentBag<int>();

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 6), Workers.Of<int>().Then(ThrowOnThree).Then(printed.Add), new JobOptions { Logger = logger.Object }).Within();

        Assert.IsTrue(result.Completed);
        CollectionAssert.AreEquivalent(new[] { 0, 1, 2, 4, 5 }, printed.ToArray());
    }

    [TestMethod]
    public async Task Run_InputEnumeratorThrows_RethrowsSameExceptionAfterInFlightItemsFinish()
    {
        var inputFailed = new ManualResetEventSlim();
        IEnumerable<int> Input()
        {
            for (var i = 0; i < 5; i++)
            {
                yield return i;
            }

            inputFailed.Set();
            throw Boom;
        }

        using var gate = new Gate();
        var printed = new ConcurrentBag<int>();
        var workers = Workers.Of<int>().Then(Add1Slowly).Then(printed.Add);

        var run = Task.Run(() => JobQueue.Run(Input(), workers));
        gate.WaitArrivals(1);
        Assert.IsTrue(inputFailed.Wait(Bounded.Limit), "the input should have been read to its failure");
        Assert.IsFalse(run.IsCompleted, "Run must wait for the items in flight before rethrowing");
        gate.Open();

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => run.Within());

        Assert.AreSame(Boom, thrown);
        CollectionAssert.AreEquivalent(new[] { 1, 2, 3, 4, 5 }, printed.ToArray());

        int Add1Slowly(int x)
        {
            if (x == 0)
            {
                gate.Pass();
            }

            return x + 1;
        }
    }

    [TestMethod]
    public async Task RunAsync_InputThrowsImmediately_RethrowsAndCallsNoWorker()
    {
        static IEnumerable<int> Input()
        {
            throw Boom;
#pragma warning disable CS0162 // Unreachable code: makes this an iterator, so it throws on the first MoveNext.
            yield break;
#pragma warning restore CS0162
        }

        var calls = 0;

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => JobQueue.RunAsync(Input(), Workers.Of<int>().Then(x => Interlocked.Increment(ref calls))).Within());

        Assert.AreSame(Boom, thrown);
        Assert.AreEqual(0, calls);
    }

    [TestMethod]
    public async Task RunAsync_InputsGetEnumeratorReturnsNull_RethrowsInvalidOperationNamingIt()
    {
        var sync = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => JobQueue.RunAsync((IEnumerable<int>)new NullEnumerable(), Workers.Of<int>().Then(x => x), new JobOptions { Logger = NullLogger.Instance }).Within());
        var async = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => JobQueue.RunAsync((IAsyncEnumerable<int>)new NullEnumerable(), Workers.Of<int>().Then(x => x), new JobOptions { Logger = NullLogger.Instance }).Within());

        Assert.Contains("GetEnumerator returned null", sync.Message);
        Assert.Contains("GetAsyncEnumerator returned null", async.Message);
    }

    /// <summary>An input that breaks its contract: its enumerators are null.</summary>
    private sealed class NullEnumerable : IEnumerable<int>, IAsyncEnumerable<int>
    {
        public IEnumerator<int> GetEnumerator() => null!;

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public IAsyncEnumerator<int> GetAsyncEnumerator(CancellationToken cancellationToken = default) => null!;
    }

    [TestMethod]
    public async Task RunAsync_WorkersReturnNull_EachItemFailsWithAMessageSayingWhatWasNull()
    {
        var failures = new ConcurrentQueue<JobFailure>();
        var options = new JobOptions { ErrorPolicy = ErrorPolicy.Handle(failures.Enqueue) };
        Task<int>? noTask = null;
        Task? noPlainTask = null;
        IEnumerable<int>? noSequence = null;
        IAsyncEnumerable<int>? noAsyncSequence = null;

        await JobQueue.RunAsync([1], Workers.Of<int>().Then(x => noTask!), options).Within();
        await JobQueue.RunAsync([1], Workers.Of<int>().Then(x => noPlainTask!), options).Within();
        await JobQueue.RunAsync([1], Workers.Of<int>().ThenMany(x => noSequence!), options).Within();
        await JobQueue.RunAsync([1], Workers.Of<int>().ThenMany(x => noAsyncSequence!), options).Within();

        var messages = failures.Select(failure => failure.Exception.Message).ToArray();
        Assert.HasCount(4, messages);
        StringAssert.StartsWith(messages[0], "The worker returned null instead of a Task<Int32>");
        StringAssert.StartsWith(messages[1], "The worker returned null instead of a Task;");
        StringAssert.StartsWith(messages[2], "The worker returned null instead of a sequence");
        StringAssert.StartsWith(messages[3], "The worker returned null instead of a sequence");
        Assert.IsTrue(failures.All(failure => failure.Exception is InvalidOperationException));
    }

    [TestMethod]
    public async Task RunAsync_InputThrowsItsOwnOperationCanceled_TaskFaultsWithItNotCanceled()
    {
        var own = new OperationCanceledException("the input's own");

        static IEnumerable<int> Input(Exception failure)
        {
            yield return 1;
            throw failure;
        }

        var run = JobQueue.RunAsync(Input(own), Workers.Of<int>().Then(x => x), new JobOptions { Logger = NullLogger.Instance });
        var thrown = await Assert.ThrowsAsync<OperationCanceledException>(() => run.Within());

        Assert.AreSame(own, thrown);
        Assert.AreEqual(TaskStatus.Faulted, run.Status, "no token was cancelled: the input failed");
    }

    [TestMethod]
    public async Task RunAsync_AsyncInputThrowsMidway_RethrowsSameExceptionItemsBeforeProcessed()
    {
        static async IAsyncEnumerable<int> Input()
        {
            for (var i = 0; i < 10; i++)
            {
                await Task.Yield();
                yield return i;
            }

            throw Boom;
        }

        var printed = new ConcurrentBag<int>();

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => JobQueue.RunAsync(Input(), Workers.Of<int>().Then(x => x * 2, threads: 2).Then(printed.Add)).Within());

        Assert.AreSame(Boom, thrown);
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 10).Select(x => x * 2).ToArray(), printed.ToArray());
    }

    [TestMethod]
    public async Task Run_InputThrows_ErrorIsLogged()
    {
        static IEnumerable<int> Input()
        {
            yield return 1;
            throw Boom;
        }

        var logger = LoggerMock.Create();

        await Assert.ThrowsAsync<InvalidOperationException>(() => JobQueue.RunAsync(Input(), Workers.Of<int>().Then(x => x), new JobOptions { Logger = logger.Object }).Within());

        logger.VerifyLogged(LogLevel.Error, "input", Boom, Times.Once());
    }

    [TestMethod]
    public async Task RunAsync_AsyncInputThrowsAndItsDisposalThrowsToo_RethrowsTheFirstAndLogsBoth()
    {
        // The input's own failure is the cause; a disposal that fails after it must not hide it.
        var cleanup = new ObjectDisposedException("reader", "cleanup failed");
        var logger = LoggerMock.Create();

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(
            () => JobQueue.RunAsync(new FailingInput(Boom, cleanup), Workers.Of<int>().Then(x => x), new JobOptions { Logger = logger.Object }).Within());

        Assert.AreSame(Boom, thrown);
        logger.VerifyLogged(LogLevel.Error, "input", Boom, Times.Once());
        logger.VerifyLogged(LogLevel.Error, "input", cleanup, Times.Once());
    }

    /// <summary>An input that yields 0, 1, 2, then fails, and whose disposal fails as well.</summary>
    private sealed class FailingInput(Exception failure, Exception disposal) : IAsyncEnumerable<int>, IAsyncEnumerator<int>
    {
        public int Current { get; private set; } = -1;

        public IAsyncEnumerator<int> GetAsyncEnumerator(CancellationToken cancellationToken = default) => this;

        public ValueTask<bool> MoveNextAsync() => ++Current < 3 ? ValueTask.FromResult(true) : ValueTask.FromException<bool>(failure);

        public ValueTask DisposeAsync() => ValueTask.FromException(disposal);
    }
}
