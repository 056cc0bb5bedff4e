using JobQ.Dataflow.Tests.Support;
using Microsoft.Extensions.Logging;
using Moq;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Dataflow;

namespace JobQ.Dataflow.Tests.Errors;

[TestClass]
public sealed class FailFastTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task RunAsync_FailFastLoggerBlocksOnTheFailureWhenTheTimeoutPasses_ReturnsAtTheTimeout()
    {
        // The logger is user code, as the worker is: a stop does not wait for one that blocks on the failure's entry.
        using var release = new ManualResetEventSlim();
        var logging = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var logger = new Mock<ILogger>();
        logger.Setup(l => l.IsEnabled(It.IsAny<LogLevel>())).Returns(true);
        logger.Setup(l => l.Log(LogLevel.Error, It.IsAny<EventId>(), It.IsAny<It.IsAnyType>(), It.IsAny<Exception?>(), It.IsAny<Func<It.IsAnyType, Exception?, string>>()))
            .Callback(() =>
            {
                logging.TrySetResult();
                release.Wait(Bound);
            });
        var clock = new SignallingTimeProvider();
        var probe = new Probe();
        var workers = Workers.Of<int>().Then(x => x == 3 ? throw new InvalidDataException("three") : x);

        var run = JobQueue.RunAsync(Enumerable.Range(0, 10), workers, new JobOptions { ErrorPolicy = ErrorPolicy.FailFast, Logger = logger.Object, Timeout = TimeSpan.FromSeconds(1), TimeProvider = clock, Probe = probe });
        try
        {
            await logging.Task.WaitAsync(Bound);
            clock.Advance(TimeSpan.FromSeconds(1));

            var result = await run.WaitAsync(Bound);

            Assert.IsTrue(result.TimedOut, "the timeout came before the failure could stop the run");
            Assert.AreEqual(1, result.Stats.Stages[0].Doing, "the failed call counts as in progress while it is logged");
        }
        finally
        {
            release.Set();
        }

        Bounded.Until(() => JobQueue.Stat(probe).Stages[0].Failed == 1, "the failure to be counted once the logger returns");
    }

    [TestMethod]
    public async Task RunAsync_FailFastWorkerThrows_ThrowsTheSameExceptionInstance()
    {
        var boom = new InvalidOperationException("boom");
        var workers = Workers.Of<int>().Then(x => x + 1).Then(x => x == 5 ? throw boom : x, threads: 2);

        var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(
            () => JobQueue.RunAsync(Enumerable.Range(0, 100), workers, new JobOptions { ErrorPolicy = ErrorPolicy.FailFast }).WaitAsync(Bound));

        Assert.AreSame(boom, error);
    }

    [TestMethod]
    public void Run_FailFastAsyncWorkerThrows_RethrowsTheSameExceptionInstance()
    {
        var boom = new InvalidOperationException("boom");
        var workers = Workers.Of<int>().Then(async (int x, CancellationToken ct) =>
        {
            await Task.Yield();
            return x == 2 ? throw boom : x;
        });

        var run = Task.Run(() => JobQueue.Run(Enumerable.Range(0, 10), workers, new JobOptions { ErrorPolicy = ErrorPolicy.FailFast }));

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => run.WaitAsync(Bound).GetAwaiter().GetResult());
        Assert.AreSame(boom, error);
    }

    [TestMethod]
    public async Task RunAsync_FailFast_StopsReadingInputAndStartsNoNewCall()
    {
        const int queueSize = 4;
        var read = 0;
        var input = Enumerable.Range(0, int.MaxValue).Select(i =>
        {
            Interlocked.Increment(ref read);
            return i;
        });
        var probe = new Probe();
        var workers = Workers.Of<int>().Then(x => x == 0 ? throw new InvalidOperationException("first item fails") : x);

        await Assert.ThrowsExactlyAsync<InvalidOperationException>(
            () => JobQueue.RunAsync(input, workers, new JobOptions { ErrorPolicy = ErrorPolicy.FailFast, QueueSize = queueSize, Probe = probe }).WaitAsync(Bound));

        // At most: the failed item, a full queue, the item the reader holds, and one MoveNext racing the stop.
        Assert.IsLessThanOrEqualTo(queueSize + 3, Volatile.Read(ref read));
        var stage = JobQueue.Stat(probe).Stages[0];
        Assert.AreEqual(1L, stage.In);
        Assert.AreEqual(1L, stage.Failed);
    }

    [TestMethod]
    public async Task RunAsync_FailFast_CancelsTheTokenOfAsyncCallsInFlight()
    {
        var boom = new InvalidOperationException("boom");
        var slowStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slowCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var never = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new Probe();
        var workers = Workers.Of<int>().Then(
            async (int x, CancellationToken ct) =>
            {
                if (x == 0)
                {
                    slowStarted.TrySetResult();
                    try
                    {
                        await never.Task.WaitAsync(ct);
                    }
                    catch (OperationCanceledException) when (ct.IsCancellationRequested)
                    {
                        slowCancelled.TrySetResult();
                        throw;
                    }

                    return x;
                }

                await slowStarted.Task.WaitAsync(Bound);
                throw boom;
            },
            threads: 2);

        try
        {
            var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(
                () => JobQueue.RunAsync(new[] { 0, 1 }, workers, new JobOptions { ErrorPolicy = ErrorPolicy.FailFast, Probe = probe }).WaitAsync(Bound));

            Assert.AreSame(boom, error);
            await slowCancelled.Task.WaitAsync(Bound);
            Assert.IsTrue(SpinWait.SpinUntil(() => JobQueue.Stat(probe).Doing == 0, Bound));
            Assert.AreEqual(1L, JobQueue.Stat(probe).Stages[0].Failed, "The cancelled call is not a second failure.");
        }
        finally
        {
            never.TrySetResult();
        }
    }

    [TestMethod]
    public async Task CreateBlock_FailFastWorkerThrows_FaultsCompletionWithThatException()
    {
        var boom = new InvalidOperationException("boom");
        var block = JobQueue.CreateBlock(
            Workers.Of<int>().Then(x => x == 2 ? throw boom : x),
            new JobOptions { ErrorPolicy = ErrorPolicy.FailFast });
        block.LinkTo(DataflowBlock.NullTarget<int>());

        for (var i = 0; i < 5; i++)
        {
            await block.SendAsync(i).WaitAsync(Bound);
        }

        var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => block.Completion.WaitAsync(Bound));
        Assert.AreSame(boom, error);
    }

    [TestMethod]
    public async Task CreateBlock_FailFast_PropagatesTheFaultOverLinks()
    {
        var boom = new InvalidOperationException("boom");
        var block = JobQueue.CreateBlock(
            Workers.Of<int>().Then(x => x == 0 ? throw boom : x),
            new JobOptions { ErrorPolicy = ErrorPolicy.FailFast });
        var sink = new BufferBlock<int>();
        block.LinkTo(sink, new DataflowLinkOptions { PropagateCompletion = true });

        await block.SendAsync(0).WaitAsync(Bound);

        await Assert.ThrowsAsync<Exception>(() => sink.Completion.WaitAsync(Bound));
        CollectionAssert.Contains(sink.Completion.Exception!.Flatten().InnerExceptions.ToList(), boom);
    }

    [TestMethod]
    public async Task StreamAsync_FailFastWorkerThrows_EndsTheSequenceWithThatException()
    {
        var boom = new InvalidOperationException("boom");
        var outputs = new List<int>();

        var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(async () =>
        {
            await foreach (var x in JobQueue.StreamAsync(Enumerable.Range(0, 100), Workers.Of<int>().Then(x => x == 50 ? throw boom : x), new JobOptions { ErrorPolicy = ErrorPolicy.FailFast, KeepOrder = true }).WithCancellation(CancellationToken.None))
            {
                outputs.Add(x);
            }
        }).WaitAsync(Bound);

        Assert.AreSame(boom, error);
        Assert.IsLessThanOrEqualTo(50, outputs.Count);
        CollectionAssert.AreEqual(Enumerable.Range(0, outputs.Count).ToList(), outputs);
    }

    [TestMethod]
    public async Task RunAsync_FailFastWithAsyncInput_CancelsTheInputsToken()
    {
        var inputCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var read = 0;
        var workers = Workers.Of<int>().Then(x => x == 0 ? throw new InvalidOperationException("first item fails") : x);

        await Assert.ThrowsExactlyAsync<InvalidOperationException>(
            () => JobQueue.RunAsync(Input(), workers, new JobOptions { ErrorPolicy = ErrorPolicy.FailFast, QueueSize = 4 }).WaitAsync(Bound));

        await inputCancelled.Task.WaitAsync(Bound);
        Assert.IsLessThanOrEqualTo(4 + 3, Volatile.Read(ref read));

        async IAsyncEnumerable<int> Input([EnumeratorCancellation] CancellationToken ct = default)
        {
            using var registration = ct.Register(() => inputCancelled.TrySetResult());
            for (var i = 0; ; i++)
            {
                await Task.Yield();
                Interlocked.Increment(ref read);
                yield return i;
            }
        }
    }
}
