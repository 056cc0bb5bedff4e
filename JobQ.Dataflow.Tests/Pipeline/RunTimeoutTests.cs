using System.Collections.Concurrent;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Pipeline;

/// <summary>
/// Timeout and cancellation: no new call starts, calls in progress finish but pass nothing on, async workers see
/// the token cancelled. jobq's own timing case is driven with a fake clock: a worker "taking 100 ms" waits on
/// <c>Task.Delay(100 ms, fakeClock)</c>, and the test moves the clock.
/// </summary>
[TestClass]
public sealed class RunTimeoutTests
{
    private static readonly TimeSpan WorkerCost = TimeSpan.FromMilliseconds(100);

    [TestMethod]
    public async Task RunAsync_HundredMsWorkerAndFiftyMsTimeout_ExactlyItemZeroReachesItNothingReachesNextStage()
    {
        var clock = new SignallingTimeProvider();
        var entered = new ConcurrentQueue<int>();
        var reachedNext = new ConcurrentQueue<int>();
        var probe = new Probe();
        var workerThreads = new ConcurrentBag<Thread>();
        var workers = Workers.Of<int>()
            .Then(x => SlowWorker(x, clock, entered.Enqueue, workerThreads))
            .Then(reachedNext.Enqueue);

        var run = JobQueue.RunAsync(Enumerable.Range(0, 3), workers, new JobOptions { Timeout = TimeSpan.FromMilliseconds(50), TimeProvider = clock, Probe = probe });
        Bounded.Until(() => clock.TimersCreated == 2, "the timeout timer and item 0's 100 ms delay");
        clock.Advance(TimeSpan.FromMilliseconds(50));
        var result = await run.Within();

        Assert.IsTrue(result.TimedOut);
        Assert.IsFalse(result.Completed);

        // Well after Run returned: item 0's call finishes at 100 ms, and its output must be discarded.
        clock.Advance(TimeSpan.FromMilliseconds(200));
        Bounded.Until(() => JobQueue.Stat(probe).Stages[0].Out == 1, "item 0's call to return");
        Bounded.Until(() => workerThreads.All(LaneThreads.IsDone), "the worker's thread to be done, so nothing more can be passed on");
        var stats = JobQueue.Stat(probe);

        CollectionAssert.AreEqual(new[] { 0 }, entered.ToArray());
        Assert.IsEmpty(reachedNext);
        Assert.AreEqual(1, stats.Stages[0].In);
        Assert.AreEqual(0, stats.Stages[1].In);
        Assert.AreEqual(0, stats.Stages[1].Input.Size);
        Assert.AreEqual(0, stats.Doing);
    }

    /// <summary>jobq's timeout runs from the call: time spent building the pipeline (JIT in a fresh process) counts.</summary>
    [TestMethod]
    public async Task RunAsync_SetupTakesThirtyMsOfAFiftyMsTimeout_TimesOutTwentyMsAfterTheWorkStarts()
    {
        var clock = new SetupTakesTime(TimeSpan.FromMilliseconds(30));
        using var gate = new Gate();
        var workers = Workers.Of<int>().Then(x =>
        {
            gate.Pass();
            return x;
        });

        var run = JobQueue.RunAsync(Enumerable.Range(0, 3), workers, new JobOptions { Timeout = TimeSpan.FromMilliseconds(50), TimeProvider = clock });
        try
        {
            Bounded.Until(() => clock.TimersCreated == 1, "the timeout timer");
            clock.Fake.Advance(TimeSpan.FromMilliseconds(20));
            var result = await run.Within();

            Assert.IsTrue(result.TimedOut);
        }
        finally
        {
            gate.Open();
        }
    }

    /// <summary>A fake clock whose first reading is followed by <paramref name="setup"/>: what building a pipeline takes.</summary>
    private sealed class SetupTakesTime(TimeSpan setup) : TimeProvider
    {
        private int _timers;
        private int _read;

        public Microsoft.Extensions.Time.Testing.FakeTimeProvider Fake { get; } = new();

        public int TimersCreated => Volatile.Read(ref _timers);

        public override long TimestampFrequency => Fake.TimestampFrequency;

        public override DateTimeOffset GetUtcNow() => Fake.GetUtcNow();

        public override long GetTimestamp()
        {
            var now = Fake.GetTimestamp();
            if (Interlocked.Exchange(ref _read, 1) == 0)
            {
                Fake.Advance(setup);
            }

            return now;
        }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = Fake.CreateTimer(callback, state, dueTime, period);
            Interlocked.Increment(ref _timers);
            return timer;
        }
    }

    [TestMethod]
    public async Task RunAsync_HundredMsWorkerAndHundredFiftyMsTimeout_ItemsZeroAndOneReachItItemZeroReachesNextStage()
    {
        var clock = new SignallingTimeProvider();
        var entered = new ConcurrentQueue<int>();
        var reachedNext = new BlockingCollection<int>();
        var probe = new Probe();
        var workerThreads = new ConcurrentBag<Thread>();
        var workers = Workers.Of<int>()
            .Then(x => SlowWorker(x, clock, entered.Enqueue, workerThreads))
            .Then(reachedNext.Add);

        var run = JobQueue.RunAsync(Enumerable.Range(0, 3), workers, new JobOptions { Timeout = TimeSpan.FromMilliseconds(150), TimeProvider = clock, Probe = probe });
        Bounded.Until(() => clock.TimersCreated == 2, "the timeout timer and item 0's 100 ms delay");
        clock.Advance(WorkerCost); // t = 100 ms: item 0 done, item 1 starts
        Assert.IsTrue(reachedNext.TryTake(out var first, Bounded.Limit), "item 0 should reach the next stage");
        Bounded.Until(() => clock.TimersCreated == 3, "item 1's 100 ms delay");
        clock.Advance(TimeSpan.FromMilliseconds(50)); // t = 150 ms: timeout
        var result = await run.Within();

        Assert.IsTrue(result.TimedOut);

        clock.Advance(TimeSpan.FromMilliseconds(200)); // item 1's call returns at 200 ms
        Bounded.Until(() => JobQueue.Stat(probe).Stages[0].Out == 2, "item 1's call to return");
        Bounded.Until(() => workerThreads.All(LaneThreads.IsDone), "the worker's thread to be done, so nothing more can be passed on");

        Assert.AreEqual(0, first);
        CollectionAssert.AreEqual(new[] { 0, 1 }, entered.ToArray());
        Assert.IsEmpty(reachedNext, "nothing after item 0 may reach the next stage");
        Assert.AreEqual(2, JobQueue.Stat(probe).Stages[0].In);
        Assert.AreEqual(1, JobQueue.Stat(probe).Stages[1].In);
    }

    [TestMethod]
    public async Task Run_TimeoutOnSystemClockWithWorkerHeld_ReturnsTimedOutWhileCallStillInUserCode()
    {
        using var gate = new Gate();
        var reachedNext = new ConcurrentQueue<int>();
        var probe = new Probe();
        var workers = Workers.Of<int>().Then(x => { gate.Pass(); return x; }).Then(reachedNext.Enqueue);

        var result = await Bounded.RunBlocking(() => JobQueue.Run(Enumerable.Range(0, 10), workers, timeout: TimeSpan.FromMilliseconds(50), probe: probe));

        Assert.IsTrue(result.TimedOut);
        Assert.AreEqual(1, gate.Arrivals);
        Assert.AreEqual(1, JobQueue.Stat(probe).Doing, "the held call is still in user code when Run returns");

        gate.Open();
        Bounded.Until(() => JobQueue.Stat(probe).Doing == 0, "the held call to return");

        Assert.AreEqual(1, gate.Arrivals, "no new call may start after the timeout");
        Assert.IsEmpty(reachedNext);
    }

    [TestMethod]
    public async Task RunAsync_Timeout_AsyncWorkerSeesTokenCancelled()
    {
        var clock = new SignallingTimeProvider();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tokenCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var workers = Workers.Of<int>().Then(async (int x, CancellationToken ct) =>
        {
            using var registration = ct.Register(() => tokenCancelled.TrySetResult());
            started.TrySetResult();
            await Task.Delay(Bounded.Limit, ct);
            return x;
        });

        var run = JobQueue.RunAsync(Enumerable.Range(0, 3), workers, new JobOptions { Timeout = TimeSpan.FromSeconds(1), TimeProvider = clock });
        await started.Task.Within();
        clock.Advance(TimeSpan.FromSeconds(1));

        var result = await run.Within();
        await tokenCancelled.Task.Within();

        Assert.IsTrue(result.TimedOut);
    }

    [TestMethod]
    public async Task RunAsync_TimeoutWhileTheInputIsInMoveNext_ItemsReadAfterwardsDoNotEnterTheCounts()
    {
        var clock = new SignallingTimeProvider();
        var inMoveNext = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        async IAsyncEnumerable<int> Input()
        {
            try
            {
                yield return 0;
                inMoveNext.TrySetResult();
                await release.Task;
                yield return 1;
                yield return 2;
            }
            finally
            {
                ended.TrySetResult();
            }
        }

        var probe = new Probe();
        var run = JobQueue.RunAsync(Input(), Workers.Of<int>().Then(x => x), new JobOptions { Timeout = TimeSpan.FromSeconds(1), TimeProvider = clock, Probe = probe });
        clock.WaitTimerCreated("the timeout");
        await inMoveNext.Task.Within();
        clock.Advance(TimeSpan.FromSeconds(1));
        var result = await run.Within();
        var atReturn = result.Stats.Stages[0];

        release.SetResult();
        await ended.Task.Within();

        Assert.IsTrue(result.TimedOut);
        var later = JobQueue.Stat(probe).Stages[0];
        Assert.AreEqual(atReturn.In + atReturn.Input.Size, later.In + later.Input.Size, "what the stopped run reported must not grow once it returned");
    }

    [TestMethod]
    public async Task RunAsync_ClockThrowsCreatingTheTimeoutTimer_StopsTheRunAndThrowsThatException()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tokenCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var failure = new InvalidOperationException("no timers today");
        var clock = new ThrowingClock(started.Task, failure);
        var workers = Workers.Of<int>().Then(async (int x, CancellationToken ct) =>
        {
            using var registration = ct.Register(() => tokenCancelled.TrySetResult());
            started.TrySetResult();
            await Task.Delay(Bounded.Limit, ct);
            return x;
        });

        var run = JobQueue.RunAsync(Enumerable.Range(0, 3), workers, new JobOptions { Timeout = TimeSpan.FromSeconds(1), TimeProvider = clock });

        var thrown = await Assert.ThrowsAsync<Exception>(() => run.Within());
        Assert.AreSame(failure, thrown);
        await tokenCancelled.Task.Within();
    }

    [TestMethod]
    public async Task RunAsync_ClockThrowsReadingTheTimeAfterTheRunStarted_StopsTheRunAndFaultsWithThatException()
    {
        // The second read (the timeout's start) throws: the run is then already reading its input, and must stop
        // rather than go on with no one to stop it.
        var failure = new InvalidOperationException("clock broke");
        var reads = 0L;
        var probe = new Probe();

        var run = JobQueue.RunAsync(Forever(), Workers.Of<int>().Then(x => x), new JobOptions { Timeout = TimeSpan.FromSeconds(5), TimeProvider = new BreakingClock(failure), Probe = probe });

        var thrown = await Assert.ThrowsAsync<Exception>(() => run.Within());
        Assert.AreSame(failure, thrown);
        Bounded.Until(() => JobQueue.Stat(probe).Doing == 0, "the stopped run's last call to end");
        var readAfterStop = Interlocked.Read(ref reads);
        Bounded.Until(() => JobQueue.Stat(probe).Doing == 0, "a second look");
        Assert.AreEqual(readAfterStop, Interlocked.Read(ref reads), "the input is still being read after the run ended");

        IEnumerable<int> Forever()
        {
            for (var i = 0; ; i++)
            {
                Interlocked.Increment(ref reads);
                yield return i;
            }
        }
    }

    /// <summary>A clock that reads the time once, then throws.</summary>
    private sealed class BreakingClock(Exception failure) : TimeProvider
    {
        private int _reads;

        public override long GetTimestamp() => Interlocked.Increment(ref _reads) > 1 ? throw failure : base.GetTimestamp();
    }

    /// <summary>A clock whose timers cannot be made: it throws once a worker call is in progress.</summary>
    private sealed class ThrowingClock(Task callStarted, Exception failure) : TimeProvider
    {
        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            callStarted.Wait(Bounded.Limit);
            throw failure;
        }
    }

    [TestMethod]
    public async Task RunAsync_Cancelled_ThrowsOperationCanceledAndAsyncWorkerSeesToken()
    {
        using var cts = new CancellationTokenSource();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tokenCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        var workers = Workers.Of<int>().Then(async (int x, CancellationToken ct) =>
        {
            Interlocked.Increment(ref calls);
            using var registration = ct.Register(() => tokenCancelled.TrySetResult());
            started.TrySetResult();
            await Task.Delay(Bounded.Limit, ct);
            return x;
        });

        var run = JobQueue.RunAsync(Enumerable.Range(0, 100), workers, cancellationToken: cts.Token);
        await started.Task.Within();
        await cts.CancelAsync();

        await Assert.ThrowsAsync<OperationCanceledException>(() => run.Within());
        await tokenCancelled.Task.Within();
        Assert.AreEqual(1, Volatile.Read(ref calls));
    }

    [TestMethod]
    public async Task RunAsync_CancelledWhileSyncWorkerHeld_ThrowsAndNoNewCallStarts()
    {
        using var cts = new CancellationTokenSource();
        using var gate = new Gate();
        var reachedNext = new ConcurrentQueue<int>();
        var probe = new Probe();
        var workers = Workers.Of<int>().Then(x => { gate.Pass(); return x; }, threads: 2).Then(reachedNext.Enqueue);

        var run = JobQueue.RunAsync(Enumerable.Range(0, 100), workers, new JobOptions { Probe = probe }, cts.Token);
        gate.WaitArrivals(2);
        await cts.CancelAsync();

        await Assert.ThrowsAsync<OperationCanceledException>(() => run.Within());
        gate.Open();
        Bounded.Until(() => JobQueue.Stat(probe).Doing == 0, "the held calls to return");

        Assert.AreEqual(2, gate.Arrivals);
        Assert.IsEmpty(reachedNext);
    }

    [TestMethod]
    public async Task RunAsync_TokenAlreadyCancelled_ThrowsBeforeAnyCall()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        var calls = 0;

        await Assert.ThrowsAsync<OperationCanceledException>(() => JobQueue.RunAsync(Enumerable.Range(0, 10), Workers.Of<int>().Then(x => Interlocked.Increment(ref calls)), cancellationToken: cts.Token).Within());

        Assert.AreEqual(0, calls);
    }

    [TestMethod]
    public async Task RunAsync_Cancelled_TaskEndsCanceledWithTheCallersToken()
    {
        using var cts = new CancellationTokenSource();
        using var gate = new Gate();
        var workers = Workers.Of<int>().Then(x => { gate.Pass(); return x; });

        var run = JobQueue.RunAsync(Enumerable.Range(0, 10), workers, cancellationToken: cts.Token);
        gate.WaitArrivals(1);
        await cts.CancelAsync();

        var thrown = await Assert.ThrowsAsync<OperationCanceledException>(() => run.Within());
        gate.Open();

        Assert.IsTrue(run.IsCanceled, "a cancelled run's task ends Canceled, not Faulted");
        Assert.AreEqual(cts.Token, thrown.CancellationToken);
    }

    [TestMethod]
    public async Task RunAsync_TokenAlreadyCancelled_ReturnsACanceledTaskAndReadsNoInput()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        var input = new CountingEnumerable(10);

        var run = JobQueue.RunAsync(input, Workers.Of<int>().Then(x => x), cancellationToken: cts.Token);

        Assert.IsTrue(run.IsCanceled, "the call itself does not throw; its task is already Canceled");
        await Assert.ThrowsAsync<OperationCanceledException>(() => run);
        Assert.AreEqual(0, input.Enumerations);
    }

    [TestMethod]
    public async Task RunAsync_CancelledJustAfterTheTimeoutPassed_ReturnsTimedOutResult()
    {
        // The first of timeout and cancellation decides how the run ends.
        var clock = new SignallingTimeProvider();
        using var cts = new CancellationTokenSource();
        using var gate = new Gate();
        var workers = Workers.Of<int>().Then(x => { gate.Pass(); return x; });

        var run = JobQueue.RunAsync(Enumerable.Range(0, 10), workers, new JobOptions { Timeout = TimeSpan.FromSeconds(1), TimeProvider = clock }, cts.Token);
        clock.WaitTimerCreated("the timeout timer");
        gate.WaitArrivals(1);
        clock.Advance(TimeSpan.FromSeconds(1));
        await cts.CancelAsync();

        var result = await run.Within();
        gate.Open();

        Assert.IsTrue(result.TimedOut);
    }

    [TestMethod]
    public async Task RunAsync_CancelledJustBeforeTheTimeoutPassed_ThrowsOperationCanceled()
    {
        var clock = new SignallingTimeProvider();
        using var cts = new CancellationTokenSource();
        using var gate = new Gate();
        var workers = Workers.Of<int>().Then(x => { gate.Pass(); return x; });

        var run = JobQueue.RunAsync(Enumerable.Range(0, 10), workers, new JobOptions { Timeout = TimeSpan.FromSeconds(1), TimeProvider = clock }, cts.Token);
        clock.WaitTimerCreated("the timeout timer");
        gate.WaitArrivals(1);
        await cts.CancelAsync();
        clock.Advance(TimeSpan.FromSeconds(1));

        await Assert.ThrowsAsync<OperationCanceledException>(() => run.Within());
        gate.Open();
    }

    [TestMethod]
    public async Task RunAsync_FinishesBeforeTimeout_CompletedNotTimedOut()
    {
        var clock = new SignallingTimeProvider();
        var printed = new ConcurrentBag<int>();

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 50), Workers.Of<int>().Then(x => x + 1, threads: 2).Then(printed.Add), new JobOptions { Timeout = TimeSpan.FromSeconds(5), TimeProvider = clock }).Within();

        Assert.IsTrue(result.Completed);
        Assert.IsFalse(result.TimedOut);
        Assert.HasCount(50, printed);
    }

    [TestMethod]
    public async Task RunAsync_InfiniteTimeout_TreatedAsNoTimeout()
    {
        var result = await JobQueue.RunAsync(Enumerable.Range(0, 10), Workers.Of<int>().Then(x => x), new JobOptions { Timeout = Timeout.InfiniteTimeSpan }).Within();

        Assert.IsTrue(result.Completed);
    }

    [TestMethod]
    public async Task RunAsync_TimeoutWhileInputEnumeratorBlocks_ReturnsTimedOut()
    {
        using var inputGate = new Gate();
        IEnumerable<int> Input()
        {
            yield return 0;
            inputGate.Pass();
            yield return 1;
        }

        var clock = new SignallingTimeProvider();
        var printed = new BlockingCollection<int>();

        var run = JobQueue.RunAsync(Input(), Workers.Of<int>().Then(printed.Add), new JobOptions { Timeout = TimeSpan.FromSeconds(1), TimeProvider = clock });
        Assert.IsTrue(printed.TryTake(out _, Bounded.Limit));
        inputGate.WaitArrivals(1);
        clock.Advance(TimeSpan.FromSeconds(1));
        var result = await run.Within();
        inputGate.Open();

        Assert.IsTrue(result.TimedOut);
    }

    [TestMethod]
    public async Task RunAsync_TimeoutWithKeepOrderAndLaterItemsParked_ReturnsAndPassesNothingOn()
    {
        using var gate = new Gate();
        var clock = new SignallingTimeProvider();
        var probe = new Probe();
        var reachedNext = new ConcurrentQueue<int>();
        var workers = Workers.Of<int>()
            .Then(x =>
            {
                if (x == 0)
                {
                    gate.Pass();
                }

                return x;
            }, threads: 3)
            .Then(reachedNext.Enqueue);

        var run = JobQueue.RunAsync(Enumerable.Range(0, 50), workers, new JobOptions { KeepOrder = true, Timeout = TimeSpan.FromSeconds(1), TimeProvider = clock, Probe = probe, QueueSize = 8 });
        gate.WaitArrivals(1);
        Bounded.Until(() => JobQueue.Stat(probe).Stages[0].Coordinator?.Size > 0, "later items to be parked behind the held item 0");
        clock.Advance(TimeSpan.FromSeconds(1));
        var result = await run.Within();
        gate.Open();
        Bounded.Until(() => JobQueue.Stat(probe).Doing == 0, "the held call to return");

        Assert.IsTrue(result.TimedOut);
        Assert.IsEmpty(reachedNext, "under keepOrder nothing may pass item 0, and after the timeout item 0 may not pass either");
    }

    [TestMethod]
    public async Task RunAsync_TimeoutWithKeepOrderAndLaterItemsParked_TheHeldOutputsStayInTheCoordinator()
    {
        // jobq's coordinator keeps what it holds once the run stops: the held call's end must not release the later
        // items' outputs into the next stage's queue, where the stats would count them as having reached it.
        using var gate = new Gate();
        var clock = new SignallingTimeProvider();
        var probe = new Probe();
        var workers = Workers.Of<int>()
            .Then(x =>
            {
                if (x == 0)
                {
                    gate.Pass();
                }

                return x;
            }, threads: 3)
            .Then(x => { });

        var run = JobQueue.RunAsync(Enumerable.Range(0, 50), workers, new JobOptions { KeepOrder = true, Timeout = TimeSpan.FromSeconds(1), TimeProvider = clock, Probe = probe, QueueSize = 8 });
        gate.WaitArrivals(1);
        Bounded.Until(() => JobQueue.Stat(probe).Stages[0].Coordinator?.Size > 0, "later items to be parked behind the held item 0");
        clock.Advance(TimeSpan.FromSeconds(1));
        var result = await run.Within();
        var heldAtReturn = result.Stats.Stages[0].Coordinator!.Value.Size;
        gate.Open();
        Bounded.Until(() => JobQueue.Stat(probe).Doing == 0, "the held call to return");

        var after = JobQueue.Stat(probe);
        Assert.IsGreaterThan(0, heldAtReturn);
        Assert.AreEqual(heldAtReturn, after.Stages[0].Coordinator!.Value.Size, "the coordinator keeps what it held at the stop");
        Assert.AreEqual(0, after.Stages[1].Input.Size, "nothing the coordinator held reached the next stage's queue");
        Assert.AreEqual(0, after.Stages[1].In);
    }

    [TestMethod]
    public async Task RunAsync_AsyncWorkerIgnoringTokenFinishesAfterTimeout_OutputDiscarded()
    {
        var release = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var clock = new SignallingTimeProvider();
        var probe = new Probe();
        var reachedNext = new ConcurrentQueue<int>();
        var workers = Workers.Of<int>()
            .Then(async x =>
            {
                started.TrySetResult();
                return await release.Task.WaitAsync(Bounded.Limit) + x;
            })
            .Then(reachedNext.Enqueue);

        var run = JobQueue.RunAsync(Enumerable.Range(0, 5), workers, new JobOptions { Timeout = TimeSpan.FromSeconds(1), TimeProvider = clock, Probe = probe });
        await started.Task.Within();
        clock.Advance(TimeSpan.FromSeconds(1));
        var result = await run.Within();
        Assert.AreEqual(1, JobQueue.Stat(probe).Doing, "Run returns while the async call is still pending");
        release.SetResult(100);
        Bounded.Until(() => JobQueue.Stat(probe).Doing == 0, "the pending call to finish");

        Assert.IsTrue(result.TimedOut);
        Assert.AreEqual(1, JobQueue.Stat(probe).Stages[0].In, "no new call after the timeout");
        Assert.AreEqual(0, JobQueue.Stat(probe).Stages[1].In);
        Assert.IsEmpty(reachedNext);
    }

    [TestMethod]
    public async Task RunAsync_CancelledWhileAsyncInputAwaits_InputSeesTokenAndRunThrows()
    {
        var inputCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async IAsyncEnumerable<int> Input([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
        {
            yield return 1;
            using var registration = ct.Register(() => inputCancelled.TrySetResult());
            waiting.TrySetResult();
            await Task.Delay(Bounded.Limit, ct);
            yield return 2;
        }

        using var cts = new CancellationTokenSource();
        var printed = new ConcurrentQueue<int>();

        var run = JobQueue.RunAsync(Input(), Workers.Of<int>().Then(printed.Enqueue), cancellationToken: cts.Token);
        await waiting.Task.Within();
        await cts.CancelAsync();

        await Assert.ThrowsAsync<OperationCanceledException>(() => run.Within());
        await inputCancelled.Task.Within();
        Assert.DoesNotContain(2, printed);
    }

    private static int SlowWorker(int x, SignallingTimeProvider clock, Action<int> entered, ConcurrentBag<Thread> threads)
    {
        threads.Add(Thread.CurrentThread);
        // Create the delay before announcing the call, so the test never moves the clock before it is armed.
        var cost = Task.Delay(WorkerCost, clock);
        entered(x);
        cost.Wait(Bounded.Limit);
        return x;
    }
}
