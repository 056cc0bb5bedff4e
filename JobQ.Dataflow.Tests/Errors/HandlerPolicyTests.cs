using System.Collections.Concurrent;
using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Internal;
using JobQ.Dataflow.Tests.Support;
using Microsoft.Extensions.Logging;
using Moq;

namespace JobQ.Dataflow.Tests.Errors;

[TestClass]
public sealed class HandlerPolicyTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task RunAsync_SyncHandler_ReceivesEachFailedItemWithItsExceptionAndStage()
    {
        var thrown = new ConcurrentDictionary<int, Exception>();
        var failures = new ConcurrentQueue<JobFailure>();
        var workers = Workers.Of<int>()
            .Then(x => x + 1, name: "first")
            .Then(x => x % 3 == 0 ? throw thrown.GetOrAdd(x, v => new InvalidOperationException($"bad {v}")) : x, threads: 2, name: "second");

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 30), workers, new JobOptions { ErrorPolicy = ErrorPolicy.Handle(failures.Enqueue) }).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        AssertFailures(thrown, failures, "second", 1);
        Assert.AreEqual(10L, result.Stats.Stages[1].Failed);
    }

    [TestMethod]
    public async Task RunAsync_AsyncHandler_IsAwaitedForEachFailureWithTheRunsToken()
    {
        var thrown = new ConcurrentDictionary<int, Exception>();
        var failures = new ConcurrentQueue<JobFailure>();
        var tokens = new ConcurrentQueue<CancellationToken>();
        var workers = Workers.Of<int>().Then(
            async (int x, CancellationToken ct) =>
            {
                await Task.Yield();
                return x % 4 == 1 ? throw thrown.GetOrAdd(x, v => new ArgumentException($"bad {v}")) : x;
            },
            threads: 3,
            name: "fetch");
        var policy = ErrorPolicy.Handle(async (failure, ct) =>
        {
            await Task.Yield();
            tokens.Enqueue(ct);
            failures.Enqueue(failure);
        });

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 40), workers, new JobOptions { ErrorPolicy = policy }).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        AssertFailures(thrown, failures, "fetch", 0);
        Assert.IsTrue(tokens.All(t => t.CanBeCanceled && !t.IsCancellationRequested));
    }

    [TestMethod]
    [DataRow(false, DisplayName = "sync worker")]
    [DataRow(true, DisplayName = "async worker")]
    public async Task RunAsync_AsyncHandlerIgnoresItsTokenWhenTheTimeoutPasses_ReturnsAtTheTimeout(bool asyncWorker)
    {
        // The handler is user code, as a worker call is: a stop returns without waiting for it.
        var handling = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var never = new TaskCompletionSource();
        var clock = new SignallingTimeProvider();
        var probe = new Probe();
        var policy = ErrorPolicy.Handle(async (_, _) =>
        {
            handling.TrySetResult();
            await never.Task;
        });
        var workers = asyncWorker
            ? Workers.Of<int>().Then(async x => { await Task.Yield(); return x == 3 ? throw new InvalidDataException("three") : x; })
            : Workers.Of<int>().Then(x => x == 3 ? throw new InvalidDataException("three") : x);

        var run = JobQueue.RunAsync(Enumerable.Range(0, 10), workers, new JobOptions { ErrorPolicy = policy, Timeout = TimeSpan.FromSeconds(1), TimeProvider = clock, Probe = probe });
        await handling.Task.WaitAsync(Bound);
        clock.Advance(TimeSpan.FromSeconds(1));
        var result = await run.WaitAsync(Bound);

        Assert.IsTrue(result.TimedOut);
        Assert.AreEqual(1, result.Stats.Stages[0].Doing, "the failed call counts as in progress while its handler runs");
        never.SetResult();
        Bounded.Until(() => JobQueue.Stat(probe).Stages[0].Failed == 1, "the failure to be counted once its handler returns");
    }

    [TestMethod]
    public async Task RunAsync_AsyncHandlerOfADispatcherFailureIgnoresItsToken_ReturnsAtTheTimeout()
    {
        var handling = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var never = new TaskCompletionSource();
        var clock = new SignallingTimeProvider();
        var policy = ErrorPolicy.Handle(async (_, _) =>
        {
            handling.TrySetResult();
            await never.Task;
        });
        var workers = Workers.Of<int>().Then(x => x, threads: 2, dispatcher: x => x == 3 ? throw new InvalidDataException("three") : x);

        var run = JobQueue.RunAsync(Enumerable.Range(0, 10), workers, new JobOptions { ErrorPolicy = policy, Timeout = TimeSpan.FromSeconds(1), TimeProvider = clock });
        await handling.Task.WaitAsync(Bound);
        clock.Advance(TimeSpan.FromSeconds(1));
        var result = await run.WaitAsync(Bound);
        never.SetResult();

        Assert.IsTrue(result.TimedOut);
    }

    [TestMethod]
    public async Task RunAsync_DeadLetterBufferBlock_ReceivesEveryFailure()
    {
        var thrown = new ConcurrentDictionary<int, Exception>();
        var deadLetters = new BufferBlock<JobFailure>();
        var workers = Workers.Of<int>()
            .Then(x => x)
            .Then(x => x % 5 == 0 ? throw thrown.GetOrAdd(x, v => new InvalidOperationException($"bad {v}")) : x, threads: 4, name: "check");

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 500), workers, new JobOptions { ErrorPolicy = ErrorPolicy.DeadLetter(deadLetters) }).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        Assert.IsTrue(deadLetters.TryReceiveAll(out var received));
        AssertFailures(thrown, received!, "check", 1);
        Assert.AreEqual(100L, result.Stats.Stages[1].Failed);
    }

    [TestMethod]
    public async Task RunAsync_BoundedDeadLetterBlock_WaitsForRoomAndLosesNothing()
    {
        var received = new ConcurrentQueue<JobFailure>();
        var deadLetters = new ActionBlock<JobFailure>(
            async failure =>
            {
                await Task.Yield();
                received.Enqueue(failure);
            },
            new ExecutionDataflowBlockOptions { BoundedCapacity = 1 });
        var workers = Workers.Of<int>().Then(x => x % 2 == 0 ? throw new InvalidOperationException("even") : x, threads: 2);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 200), workers, new JobOptions { ErrorPolicy = ErrorPolicy.DeadLetter(deadLetters) }).WaitAsync(Bound);
        deadLetters.Complete();
        await deadLetters.Completion.WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 100).Select(i => (object)(2 * i)).ToList(), received.Select(f => f.Item).ToList());
    }

    [TestMethod]
    public async Task RunAsync_DeadLetterBlockDeclines_LogsAndGoesOn()
    {
        var logger = LoggerMock.Create();
        var deadLetters = new BufferBlock<JobFailure>();
        deadLetters.Complete();
        var passed = new ConcurrentQueue<int>();
        var workers = Workers.Of<int>()
            .Then(x => x == 7 ? throw new InvalidOperationException("seven") : x, name: "check")
            .Then((int x) => passed.Enqueue(x));

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 10), workers, new JobOptions { ErrorPolicy = ErrorPolicy.DeadLetter(deadLetters), Logger = logger.Object }).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(1L, result.Stats.Stages[0].Failed);
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 10).Where(x => x != 7).ToList(), passed.ToList());
        logger.VerifyLogged<InvalidOperationException>(LogLevel.Error, Times.Exactly(2)); // the worker's failure, then the declined hand-off
    }

    [TestMethod]
    public async Task RunAsync_HandlerThrows_LogsItAndLosesNoOtherItem()
    {
        var logger = LoggerMock.Create();
        var calls = 0;
        var passed = new ConcurrentQueue<int>();
        var handlerError = new FormatException("handler down");
        var workers = Workers.Of<int>()
            .Then(x => x % 2 == 0 ? throw new InvalidOperationException("even") : x, threads: 2, name: "check")
            .Then((int x) => passed.Enqueue(x), threads: 2);
        var policy = ErrorPolicy.Handle(_ =>
        {
            Interlocked.Increment(ref calls);
            throw handlerError;
        });

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 100), workers, new JobOptions { ErrorPolicy = policy, Logger = logger.Object }).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(50, calls);
        Assert.AreEqual(50L, result.Stats.Stages[0].Failed);
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 100).Where(x => x % 2 == 1).ToList(), passed.ToList());
        logger.VerifyLogged(LogLevel.Error, "'check'", handlerError, Times.Exactly(50));
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public async Task ReportFailureAsync_HandlerThrowsOperationCanceled_LoggedAsTheHandlersFailureOnlyIfTheRunIsNotStopping(bool stopped)
    {
        var logger = LoggerMock.Create();
        var options = new JobOptions
        {
            Logger = logger.Object,
            ErrorPolicy = ErrorPolicy.Handle((failure, ct) => throw new OperationCanceledException(ct)),
        }.Validated("options");
        var pipeline = PipelineBuilder.Build(Workers.Of<int>().Then(x => x, name: "handled"), options, resizable: false, tail: false).Pipeline;
        if (stopped)
        {
            pipeline.Stop(StopReason.Canceled);
        }

        await pipeline.ReportFailureAsync(pipeline.Stages[0], new InvalidOperationException("bad"), 1).AsTask().WaitAsync(Bound);

        logger.VerifyLogged(LogLevel.Error, "error handler of stage 'handled'", stopped ? Times.Never() : Times.Once());
    }

    [TestMethod]
    public async Task RunAsync_AsyncHandlerThrowsAfterAwait_RunGoesOn()
    {
        var passed = new ConcurrentQueue<int>();
        var workers = Workers.Of<int>()
            .Then(async (int x, CancellationToken ct) =>
            {
                await Task.Yield();
                return x % 3 == 0 ? throw new InvalidOperationException("third") : x;
            })
            .Then((int x) => passed.Enqueue(x));
        var policy = ErrorPolicy.Handle(async (_, _) =>
        {
            await Task.Yield();
            throw new FormatException("handler down");
        });

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 30), workers, new JobOptions { ErrorPolicy = policy }).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(10L, result.Stats.Stages[0].Failed);
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 30).Where(x => x % 3 != 0).ToList(), passed.ToList());
    }

    [TestMethod]
    public async Task RunAsync_LoggerThrowsUnderHandlerPolicy_HandlerStillReceivesEveryFailure()
    {
        var logger = LoggerMock.CreateThrowing();
        var failures = new ConcurrentQueue<JobFailure>();
        var passed = new ConcurrentQueue<int>();
        var workers = Workers.Of<int>()
            .Then(x => x % 4 == 0 ? throw new InvalidOperationException("fourth") : x, threads: 2)
            .Then((int x) => passed.Enqueue(x));

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 40), workers, new JobOptions { ErrorPolicy = ErrorPolicy.Handle(failures.Enqueue), Logger = logger.Object }).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 10).Select(i => (object)(4 * i)).ToList(), failures.Select(f => f.Item).ToList());
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 40).Where(x => x % 4 != 0).ToList(), passed.ToList());
    }

    [TestMethod]
    public async Task RunAsync_DispatcherThrows_HandlerReceivesTheItemAndStage()
    {
        var boom = new InvalidOperationException("no partition");
        var failures = new ConcurrentQueue<JobFailure>();
        var passed = new ConcurrentQueue<int>();
        var workers = Workers.Of<int>()
            .Then(x => x * 10, threads: 3, dispatcher: x => x == 4 ? throw boom : x, name: "routed")
            .Then((int x) => passed.Enqueue(x));

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 10), workers, new JobOptions { ErrorPolicy = ErrorPolicy.Handle(failures.Enqueue) }).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        var failure = failures.Single();
        Assert.AreEqual("routed", failure.Stage);
        Assert.AreEqual(0, failure.StageIndex);
        Assert.AreEqual(4, failure.Item);
        Assert.AreSame(boom, failure.Exception);
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 10).Where(x => x != 4).Select(x => x * 10).ToList(), passed.ToList());
    }

    private static void AssertFailures(ConcurrentDictionary<int, Exception> thrown, IEnumerable<JobFailure> failures, string stage, int stageIndex)
    {
        var list = failures.ToList();
        Assert.HasCount(thrown.Count, list);
        foreach (var failure in list)
        {
            Assert.AreEqual(stage, failure.Stage);
            Assert.AreEqual(stageIndex, failure.StageIndex);
            Assert.IsInstanceOfType<int>(failure.Item);
            Assert.AreSame(thrown[(int)failure.Item!], failure.Exception);
        }

        CollectionAssert.AreEquivalent(thrown.Keys.ToList(), list.Select(f => (int)f.Item!).ToList());
    }
}
