using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using JobQ.Dataflow.Tests.Support;
using Moq;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;
using DelayBackoffType = Polly.DelayBackoffType;

namespace JobQ.Dataflow.Tests.Errors;

[TestClass]
public sealed class ResilienceTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    [DataRow(4)]
    public async Task WithResilience_WorkerFailsKMinus1Times_CallsItExactlyKTimes(int k)
    {
        var fetcher = new Mock<IFetcher>(MockBehavior.Strict);
        var sequence = fetcher.SetupSequence(f => f.Fetch(7));
        for (var i = 1; i < k; i++)
        {
            sequence = sequence.Throws(new InvalidOperationException($"attempt {i}"));
        }

        sequence.Returns(70);
        var retry = new ResiliencePipelineBuilder { TimeProvider = new ImmediateTimeProvider() }
            .AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 5, Delay = TimeSpan.FromSeconds(1) })
            .Build();
        var outputs = new ConcurrentQueue<int>();
        var workers = Workers.Of<int>().Then(fetcher.Object.Fetch).WithResilience(retry).Then((int x) => outputs.Enqueue(x));

        var result = await JobQueue.RunAsync(new[] { 7 }, workers).WaitAsync(Bound);

        fetcher.Verify(f => f.Fetch(7), Times.Exactly(k));
        CollectionAssert.AreEqual(new[] { 70 }, outputs.ToArray());
        Assert.AreEqual(0L, result.Stats.Stages[0].Failed);
        Assert.AreEqual(1L, result.Stats.Stages[0].In, "Retries are attempts of one call, not new items.");
    }

    [TestMethod]
    public void WithResilience_AfterASpeedLimit_ThrowsNamingTheStage()
    {
        // A speed limit calls no worker: a resilience pipeline there would never run, so it is refused rather than ignored.
        var workers = Workers.Of<int>().Then(x => x).Then(JobQueue.LimitJobSpeed(1000));

        var ex = Assert.ThrowsExactly<InvalidOperationException>(() => workers.WithResilience(ResiliencePipeline.Empty));

        StringAssert.StartsWith(ex.Message, "Stage 1 ('LimitJobSpeed') calls no worker");
    }

    [TestMethod]
    public async Task WithResilience_ExponentialBackoffWithoutJitter_WaitsOneThenTwoThenFourSeconds()
    {
        var time = new ImmediateTimeProvider();
        var fetcher = new Mock<IFetcher>(MockBehavior.Strict);
        fetcher.SetupSequence(f => f.Fetch(1))
            .Throws(new InvalidOperationException("1"))
            .Throws(new InvalidOperationException("2"))
            .Throws(new InvalidOperationException("3"))
            .Returns(10);
        var retries = new ConcurrentQueue<TimeSpan>();
        var retry = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = 3,
                Delay = TimeSpan.FromSeconds(1),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = false,
                OnRetry = args =>
                {
                    retries.Enqueue(args.RetryDelay);
                    return default;
                },
            })
            .Build();

        var result = await JobQueue.RunAsync(new[] { 1 }, Workers.Of<int>().Then(fetcher.Object.Fetch).WithResilience(retry)).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        fetcher.Verify(f => f.Fetch(1), Times.Exactly(4));
        var expected = new[] { TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4) };
        CollectionAssert.AreEqual(expected, time.RequestedDueTimes.ToArray(), "The delays Polly waited on the pipeline's clock.");
        CollectionAssert.AreEqual(expected, retries.ToArray());
    }

    [TestMethod]
    public async Task WithResilience_AsyncWorkerBackoff_WaitsOnTheGivenClock()
    {
        var time = new ImmediateTimeProvider();
        var attempts = 0;
        var retry = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 2, Delay = TimeSpan.FromMilliseconds(300), BackoffType = DelayBackoffType.Linear, UseJitter = false })
            .Build();
        var workers = Workers.Of<int>().Then(
            async (int x, CancellationToken ct) =>
            {
                await Task.Yield();
                return Interlocked.Increment(ref attempts) < 3 ? throw new TimeoutException("slow") : x;
            }).WithResilience(retry);

        var result = await JobQueue.RunAsync(new[] { 1 }, workers).WaitAsync(Bound);

        Assert.AreEqual(0L, result.Stats.Stages[0].Failed);
        Assert.AreEqual(3, attempts);
        CollectionAssert.AreEqual(new[] { TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(600) }, time.RequestedDueTimes.ToArray());
    }

    [TestMethod]
    public async Task WithResilience_RetriesExhausted_ErrorPolicySeesOneFailureWithTheLastException()
    {
        var last = new InvalidOperationException("third attempt");
        var fetcher = new Mock<IFetcher>(MockBehavior.Strict);
        fetcher.SetupSequence(f => f.Fetch(5))
            .Throws(new InvalidOperationException("first attempt"))
            .Throws(new InvalidOperationException("second attempt"))
            .Throws(last);
        fetcher.Setup(f => f.Fetch(It.Is<int>(x => x != 5))).Returns<int>(x => x);
        var failures = new ConcurrentQueue<JobFailure>();
        var retry = new ResiliencePipelineBuilder { TimeProvider = new ImmediateTimeProvider() }
            .AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 2 })
            .Build();
        var workers = Workers.Of<int>().Then(fetcher.Object.Fetch, name: "fetch").WithResilience(retry);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 10), workers, new JobOptions { ErrorPolicy = ErrorPolicy.Handle(failures.Enqueue) }).WaitAsync(Bound);

        fetcher.Verify(f => f.Fetch(5), Times.Exactly(3));
        var failure = failures.Single();
        Assert.AreSame(last, failure.Exception);
        Assert.AreEqual(5, failure.Item);
        Assert.AreEqual("fetch", failure.Stage);
        Assert.AreEqual(1L, result.Stats.Stages[0].Failed);
        Assert.AreEqual(10L, result.Stats.Stages[0].In);
    }

    [TestMethod]
    public async Task WithResilience_CircuitOpen_FailsFastWithoutCallingTheWorker()
    {
        var fetcher = new Mock<IFetcher>(MockBehavior.Strict);
        fetcher.Setup(f => f.Fetch(It.IsAny<int>())).Throws(new InvalidOperationException("service down"));
        var failures = new ConcurrentQueue<JobFailure>();
        var breaker = new ResiliencePipelineBuilder()
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 0.5,
                MinimumThroughput = 2,
                SamplingDuration = TimeSpan.FromMinutes(10),
                BreakDuration = TimeSpan.FromHours(1),
            })
            .Build();
        var workers = Workers.Of<int>().Then(fetcher.Object.Fetch).WithResilience(breaker);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 6), workers, new JobOptions { ErrorPolicy = ErrorPolicy.Handle(failures.Enqueue) }).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        fetcher.Verify(f => f.Fetch(It.IsAny<int>()), Times.Exactly(2));
        var list = failures.OrderBy(f => (int)f.Item!).ToList();
        Assert.HasCount(6, list);
        Assert.IsTrue(list.Take(2).All(f => f.Exception is InvalidOperationException));
        Assert.IsTrue(list.Skip(2).All(f => f.Exception is BrokenCircuitException), "Once open, the breaker rejects every call.");
        Assert.AreEqual(6L, result.Stats.Stages[0].Failed);
    }

    [TestMethod]
    public async Task WithResilience_IsolatedCircuit_NeverCallsTheWorker()
    {
        var fetcher = new Mock<IFetcher>(MockBehavior.Strict);
        var control = new CircuitBreakerManualControl();
        await control.IsolateAsync();
        var failures = new ConcurrentQueue<JobFailure>();
        var breaker = new ResiliencePipelineBuilder().AddCircuitBreaker(new CircuitBreakerStrategyOptions { ManualControl = control }).Build();

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 3), Workers.Of<int>().Then(fetcher.Object.Fetch).WithResilience(breaker), new JobOptions { ErrorPolicy = ErrorPolicy.Handle(failures.Enqueue) }).WaitAsync(Bound);

        fetcher.Verify(f => f.Fetch(It.IsAny<int>()), Times.Never);
        Assert.HasCount(3, failures);
        Assert.IsTrue(failures.All(f => f.Exception is BrokenCircuitException));
        Assert.AreEqual(3L, result.Stats.Stages[0].Failed);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task WithResilience_GeneratorThrowsMidwayOnFirstAttempt_PassesEachElementOnce(bool keepOrder)
    {
        var attempts = new ConcurrentDictionary<int, int>();
        var outputs = new ConcurrentQueue<int>();
        var retry = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 1, Delay = TimeSpan.Zero }).Build();
        var workers = Workers.Of<int>()
            .ThenMany(Expand, threads: 2)
            .WithResilience(retry)
            .Then((int x) => outputs.Enqueue(x));

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 50), workers, new JobOptions { KeepOrder = keepOrder }).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(0L, result.Stats.Stages[0].Failed);
        var expected = Enumerable.Range(0, 50).SelectMany(x => new[] { x * 10, (x * 10) + 1, (x * 10) + 2 }).ToList();
        if (keepOrder)
        {
            CollectionAssert.AreEqual(expected, outputs.ToList());
        }
        else
        {
            CollectionAssert.AreEquivalent(expected, outputs.ToList());
        }

        IEnumerable<int> Expand(int x)
        {
            var attempt = attempts.AddOrUpdate(x, 1, (_, a) => a + 1);
            yield return x * 10;
            yield return (x * 10) + 1;
            if (attempt == 1)
            {
                throw new InvalidOperationException("midway");
            }

            yield return (x * 10) + 2;
        }
    }

    [TestMethod]
    public async Task WithResilience_AsyncGeneratorThrowsMidwayOnFirstAttempt_PassesEachElementOnce()
    {
        var attempts = new ConcurrentDictionary<int, int>();
        var outputs = new ConcurrentQueue<int>();
        var retry = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 1, Delay = TimeSpan.Zero }).Build();
        var workers = Workers.Of<int>()
            .ThenMany(ExpandAsync, threads: 2)
            .WithResilience(retry)
            .Then((int x) => outputs.Enqueue(x));

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 50), workers).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        var expected = Enumerable.Range(0, 50).SelectMany(x => new[] { x * 10, (x * 10) + 1, (x * 10) + 2 }).ToList();
        CollectionAssert.AreEquivalent(expected, outputs.ToList());

        async IAsyncEnumerable<int> ExpandAsync(int x, [EnumeratorCancellation] CancellationToken ct)
        {
            var attempt = attempts.AddOrUpdate(x, 1, (_, a) => a + 1);
            yield return x * 10;
            await Task.Yield();
            yield return (x * 10) + 1;
            if (attempt == 1)
            {
                throw new InvalidOperationException("midway");
            }

            yield return (x * 10) + 2;
        }
    }

    [TestMethod]
    public async Task WithResilience_TimeoutStrategy_CancelsTheWorkersTokenAndFailsWithTimeoutRejected()
    {
        var time = new ImmediateTimeProvider();
        var sawCancel = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var never = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var failures = new ConcurrentQueue<JobFailure>();
        var timeout = new ResiliencePipelineBuilder { TimeProvider = time }.AddTimeout(TimeSpan.FromSeconds(30)).Build();
        var workers = Workers.Of<int>().Then(
            async (int x, CancellationToken ct) =>
            {
                try
                {
                    await never.Task.WaitAsync(ct);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    sawCancel.TrySetResult();
                    throw;
                }

                return x;
            }).WithResilience(timeout);

        try
        {
            var result = await JobQueue.RunAsync(new[] { 1 }, workers, new JobOptions { ErrorPolicy = ErrorPolicy.Handle(failures.Enqueue) }).WaitAsync(Bound);

            Assert.IsTrue(result.Completed, "A per-call timeout is the item's failure, not the run's stop.");
            Assert.IsTrue(sawCancel.Task.IsCompleted);
            Assert.IsInstanceOfType<TimeoutRejectedException>(failures.Single().Exception);
            Assert.AreEqual(1L, result.Stats.Stages[0].Failed);
            CollectionAssert.Contains(time.RequestedDueTimes.ToList(), TimeSpan.FromSeconds(30));
        }
        finally
        {
            never.TrySetResult();
        }
    }

    [TestMethod]
    public async Task JobOptionsResilience_WrapsEveryStageWithoutItsOwn()
    {
        var first = new Mock<IFetcher>(MockBehavior.Strict);
        first.SetupSequence(f => f.Fetch(0)).Throws(new InvalidOperationException("once")).Returns(1);
        var second = new Mock<IFetcher>(MockBehavior.Strict);
        second.Setup(f => f.Fetch(1)).Throws(new InvalidOperationException("always"));
        var retry = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 3, Delay = TimeSpan.Zero }).Build();
        var workers = Workers.Of<int>()
            .Then(first.Object.Fetch, name: "first")
            .Then(second.Object.Fetch, name: "second")
            .WithResilience(ResiliencePipeline.Empty);

        var result = await JobQueue.RunAsync(new[] { 0 }, workers, new JobOptions { Resilience = retry }).WaitAsync(Bound);

        first.Verify(f => f.Fetch(0), Times.Exactly(2));
        second.Verify(f => f.Fetch(1), Times.Once(), "A stage with its own pipeline is not wrapped by the options' one.");
        Assert.AreEqual(0L, result.Stats.Stages[0].Failed);
        Assert.AreEqual(1L, result.Stats.Stages[1].Failed);
    }

    [TestMethod]
    public async Task WithResilience_AsyncWorkerRunCancelledDuringAttempt_StartsNoFurtherAttempt()
    {
        using var cts = new CancellationTokenSource();
        var attempts = 0;
        var firstAttempt = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new Probe();
        var retry = new ResiliencePipelineBuilder { TimeProvider = new ImmediateTimeProvider() }
            .AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 3, Delay = TimeSpan.FromSeconds(1) })
            .Build();
        var workers = Workers.Of<int>().Then(
            async (int x, CancellationToken ct) =>
            {
                if (Interlocked.Increment(ref attempts) == 1)
                {
                    firstAttempt.TrySetResult();
                    await Task.Delay(Timeout.InfiniteTimeSpan, ct).ContinueWith(_ => { }, TaskScheduler.Default);
                    throw new InvalidOperationException("failed while the run stopped");
                }

                return x;
            }).WithResilience(retry);

        var run = JobQueue.RunAsync(new[] { 1 }, workers, new JobOptions { Probe = probe }, cts.Token);
        await firstAttempt.Task.WaitAsync(Bound);
        await cts.CancelAsync();

        await Assert.ThrowsAsync<OperationCanceledException>(() => run.WaitAsync(Bound));
        Assert.IsTrue(SpinWait.SpinUntil(() => JobQueue.Stat(probe).Doing == 0, Bound));
        Assert.AreEqual(1, Volatile.Read(ref attempts), "No attempt may start once the run has stopped.");
    }

    [TestMethod]
    public async Task WithResilience_SyncWorkerRunCancelledDuringAttempt_StartsNoFurtherAttempt()
    {
        using var cts = new CancellationTokenSource();
        using var cancelled = new ManualResetEventSlim();
        var attempts = 0;
        var firstAttempt = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new Probe();
        var retry = new ResiliencePipelineBuilder { TimeProvider = new ImmediateTimeProvider() }
            .AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 3, Delay = TimeSpan.FromSeconds(1) })
            .Build();
        var workers = Workers.Of<int>().Then(x =>
        {
            if (Interlocked.Increment(ref attempts) == 1)
            {
                firstAttempt.TrySetResult();
                cancelled.Wait(Bound);
                throw new InvalidOperationException("failed while the run stopped");
            }

            return x;
        }).WithResilience(retry);

        var run = JobQueue.RunAsync(new[] { 1 }, workers, new JobOptions { Probe = probe }, cts.Token);
        await firstAttempt.Task.WaitAsync(Bound);
        await cts.CancelAsync();
        cancelled.Set();

        await Assert.ThrowsAsync<OperationCanceledException>(() => run.WaitAsync(Bound));
        Assert.IsTrue(SpinWait.SpinUntil(() => JobQueue.Stat(probe).Doing == 0, Bound));
        Assert.AreEqual(1, Volatile.Read(ref attempts), "No attempt may start once the run has stopped.");
    }

    [TestMethod]
    public async Task WithResilience_DispatcherStageRetried_KeepsPartitionOrderAndPassesEachOutputOnce()
    {
        var attempts = new ConcurrentDictionary<int, int>();
        var outputs = new ConcurrentQueue<int>();
        var retry = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 2, Delay = TimeSpan.Zero }).Build();
        var workers = Workers.Of<int>()
            .Then(
                x => attempts.AddOrUpdate(x, 1, (_, a) => a + 1) == 1 && x % 3 == 0 ? throw new InvalidOperationException("first attempt") : x,
                threads: 4,
                dispatcher: x => x)
            .WithResilience(retry)
            .Then((int x) => outputs.Enqueue(x));

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 200), workers).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(0L, result.Stats.Stages[0].Failed);
        CollectionAssert.AreEqual(Enumerable.Range(0, 200).ToList(), outputs.ToList(), "A dispatcher stage passes results on in input order.");
    }
}
