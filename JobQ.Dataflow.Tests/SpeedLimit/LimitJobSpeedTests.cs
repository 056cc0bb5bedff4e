using System.Collections.Concurrent;
using JobQ.Dataflow.Tests.Support;
using Microsoft.Extensions.Logging;
using Moq;

// Not "...Tests.SpeedLimit": a namespace of that name would hide the JobQ.Dataflow.SpeedLimit class from every test.
namespace JobQ.Dataflow.Tests.SpeedLimiting;

/// <summary>
/// LimitJobSpeed on a fake clock: item k of a window is due at windowStart + k * jobStep / speed. The clock
/// signals every timer it creates, so the test moves time only while the limiter waits on it.
/// </summary>
[TestClass]
public sealed class LimitJobSpeedTests
{
    private static readonly TimeSpan Ms100 = TimeSpan.FromMilliseconds(100);

    [TestMethod]
    public async Task LimitJobSpeed_TenPerSecond_ItemsPassAtTheirDueTimes()
    {
        var clock = new SignallingTimeProvider();
        var passed = new ConcurrentQueue<(int Item, TimeSpan At)>();
        var workers = Workers.Of<int>().Then(JobQueue.LimitJobSpeed(10)).Then(x => passed.Enqueue((x, clock.Elapsed)));

        var run = JobQueue.RunAsync(Enumerable.Range(0, 5), workers, new JobOptions { TimeProvider = clock });
        for (var k = 1; k <= 5; k++)
        {
            clock.WaitTimerCreated($"the limiter to wait for item {k - 1}");
            Assert.HasCount(k - 1, passed, $"item {k - 1} must not pass before {k * 100} ms");
            clock.Advance(Ms100);
            Bounded.Until(() => passed.Count == k, $"item {k - 1} to pass at {k * 100} ms");
        }

        await run.Within();

        CollectionAssert.AreEqual(Enumerable.Range(0, 5).ToArray(), passed.Select(p => p.Item).ToArray());
        CollectionAssert.AreEqual(Enumerable.Range(1, 5).Select(k => k * Ms100).ToArray(), passed.Select(p => p.At).ToArray());
    }

    [TestMethod]
    public async Task LimitJobSpeed_JobStepTwo_EachItemCountsTwoUnits()
    {
        var clock = new SignallingTimeProvider();
        var passed = new ConcurrentQueue<TimeSpan>();
        var workers = Workers.Of<int>().Then(JobQueue.LimitJobSpeed(10, jobStep: 2)).Then(_ => passed.Enqueue(clock.Elapsed));

        var run = JobQueue.RunAsync(Enumerable.Range(0, 3), workers, new JobOptions { TimeProvider = clock });
        for (var k = 1; k <= 3; k++)
        {
            clock.WaitTimerCreated($"the limiter to wait for item {k - 1}");
            clock.Advance(Ms100);
            Assert.HasCount(k - 1, passed, $"item {k - 1} must wait 200 ms, not 100 ms");
            clock.Advance(Ms100);
            Bounded.Until(() => passed.Count == k, $"item {k - 1} to pass at {k * 200} ms");
        }

        await run.Within();

        CollectionAssert.AreEqual(new[] { 2 * Ms100, 4 * Ms100, 6 * Ms100 }, passed.ToArray());
    }

    [TestMethod]
    public async Task LimitJobSpeed_RateFunctionChangedMidRun_NewRateAppliesFromTheNextItemWithoutStall()
    {
        var clock = new SignallingTimeProvider();
        var rate = 10.0;
        var rateReads = 0;
        var passed = new ConcurrentQueue<TimeSpan>();
        var limit = JobQueue.LimitJobSpeed(() =>
        {
            Interlocked.Increment(ref rateReads);
            return Volatile.Read(ref rate);
        });
        var workers = Workers.Of<int>().Then(limit).Then(_ => passed.Enqueue(clock.Elapsed));

        var run = JobQueue.RunAsync(Enumerable.Range(0, 4), workers, new JobOptions { TimeProvider = clock });
        clock.WaitTimerCreated("item 0's wait at 10/s");
        clock.Advance(Ms100);
        Bounded.Until(() => passed.Count == 1, "item 0 to pass at 100 ms");
        clock.WaitTimerCreated("item 1's wait at 10/s"); // the rate for item 1 has been read
        Volatile.Write(ref rate, 5.0);
        clock.Advance(Ms100);
        Bounded.Until(() => passed.Count == 2, "item 1 to pass at 200 ms");

        // Item 2 reads 5/s at 200 ms: the pacing window restarts there, so items 2 and 3 are due at 400 ms and
        // 600 ms (no stall paying back the faster start, as jobq's fixed window would impose).
        clock.WaitTimerCreated("item 2's wait at 5/s");
        clock.Advance(TimeSpan.FromMilliseconds(199));
        Assert.HasCount(2, passed, "item 2 must wait until 400 ms at the new rate");
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Bounded.Until(() => passed.Count == 3, "item 2 to pass at 400 ms");
        clock.WaitTimerCreated("item 3's wait at 5/s");
        clock.Advance(TimeSpan.FromMilliseconds(200));
        await run.Within();

        CollectionAssert.AreEqual(new[] { Ms100, 2 * Ms100, 4 * Ms100, 6 * Ms100 }, passed.ToArray());
        Assert.AreEqual(4, Volatile.Read(ref rateReads), "the rate function is read once per item");
    }

    [TestMethod]
    public async Task LimitJobSpeed_LimitStartsHoldingBackInsideALongRun_EachItemGoesOnAtItsDueTime()
    {
        // No limit for 2,000 items, so the runs into the stage grow long; items 2,000 and 2,001 then wait at 10/s, and
        // the rest pass freely again. The items of a run go on one by one, each at its due time, not when the run ends.
        const int Free = 2000;
        var clock = new SignallingTimeProvider();
        var reads = 0;
        var passed = 0;
        var limit = JobQueue.LimitJobSpeed(() => Interlocked.Increment(ref reads) is > Free and <= Free + 2 ? 10 : double.PositiveInfinity);
        var workers = Workers.Of<int>().Then(limit).Then(_ => { Interlocked.Increment(ref passed); });

        var run = JobQueue.RunAsync(Enumerable.Range(0, 3000), workers, new JobOptions { TimeProvider = clock });
        for (var k = 0; k < 2; k++)
        {
            clock.WaitTimerCreated($"item {Free + k}'s wait at 10/s");
            Bounded.Until(() => Volatile.Read(ref passed) == Free + k, $"the {Free + k} items before it to pass on while it waits");
            Assert.AreEqual(Free + k, Volatile.Read(ref passed), $"item {Free + k} must not pass before its due time");
            clock.Advance(Ms100);
            Bounded.Until(() => Volatile.Read(ref passed) > Free + k, $"item {Free + k} to pass at its due time");
        }

        var result = await run.Within();

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(3000, passed);
    }

    [TestMethod]
    public async Task LimitJobSpeed_RateFunctionGoesBadMidRun_LastGoodRateStaysAndWarningLogged()
    {
        var clock = new SignallingTimeProvider();
        var logger = LoggerMock.Create();
        var rate = 10.0;
        var passed = new ConcurrentQueue<TimeSpan>();
        var workers = Workers.Of<int>().Then(JobQueue.LimitJobSpeed(() => Volatile.Read(ref rate)), name: "paced").Then(_ => passed.Enqueue(clock.Elapsed));

        var run = JobQueue.RunAsync(Enumerable.Range(0, 3), workers, new JobOptions { TimeProvider = clock, Logger = logger.Object });
        clock.WaitTimerCreated("item 0's wait");
        Volatile.Write(ref rate, double.NaN);
        for (var k = 1; k <= 3; k++)
        {
            if (k > 1)
            {
                clock.WaitTimerCreated($"item {k - 1}'s wait at the kept rate");
            }

            clock.Advance(Ms100);
            Bounded.Until(() => passed.Count == k, $"item {k - 1} to pass");
        }

        await run.Within();

        CollectionAssert.AreEqual(new[] { Ms100, 2 * Ms100, 3 * Ms100 }, passed.ToArray());
        logger.VerifyLogged(LogLevel.Warning, "paced", Times.Exactly(2));
    }

    [TestMethod]
    public async Task LimitJobSpeed_PacesOnlyItsOwnStage_NoThreadBlockedWhileWaiting()
    {
        // A sync stage after the limiter and the limiter itself: with the clock stopped the limiter waits on a
        // timer, and a probe shows its one call in progress, not a blocked thread per item.
        var clock = new SignallingTimeProvider();
        var probe = new Probe();
        var workers = Workers.Of<int>().Then(JobQueue.LimitJobSpeed(1)).Then(x => x);

        var run = JobQueue.RunAsync(Enumerable.Range(0, 3), workers, new JobOptions { TimeProvider = clock, Probe = probe });
        clock.WaitTimerCreated("item 0's wait");
        var during = JobQueue.Stat(probe);
        for (var k = 1; k <= 3; k++)
        {
            if (k > 1)
            {
                clock.WaitTimerCreated($"item {k - 1}'s wait");
            }

            clock.Advance(TimeSpan.FromSeconds(1));
        }

        var result = await run.Within();

        Assert.AreEqual(1, during.Stages[0].Doing);
        Assert.AreEqual(1, during.Stages[0].WorkerCount);
        Assert.AreEqual(0, during.Stages[1].In);
        Assert.IsTrue(result.Completed);
        Assert.AreEqual(3, result.Stats.Stages[1].Out);
    }

    [TestMethod]
    public async Task LimitJobSpeed_AfterFiveSeconds_ReportsSpeedAndRestartsWindow()
    {
        var clock = new SignallingTimeProvider();
        var logger = LoggerMock.Create();
        var passed = new ConcurrentQueue<TimeSpan>();
        var workers = Workers.Of<int>().Then(JobQueue.LimitJobSpeed(1), name: "one-per-second").Then(_ => passed.Enqueue(clock.Elapsed));

        var run = JobQueue.RunAsync(Enumerable.Range(0, 7), workers, new JobOptions { TimeProvider = clock, Logger = logger.Object });
        for (var k = 1; k <= 7; k++)
        {
            clock.WaitTimerCreated($"item {k - 1}'s wait");
            clock.Advance(TimeSpan.FromSeconds(1));
            Bounded.Until(() => passed.Count == k, $"item {k - 1} to pass");
        }

        await run.Within();

        CollectionAssert.AreEqual(Enumerable.Range(1, 7).Select(s => TimeSpan.FromSeconds(s)).ToArray(), passed.ToArray());
        logger.VerifyLogged(LogLevel.Information, "one-per-second", Times.Once());
    }

    [TestMethod]
    public async Task LimitJobSpeed_RateChangedMidRun_ReportNamesTheLimitInForceOverTheWindow()
    {
        var clock = new SignallingTimeProvider();
        var logger = LoggerMock.Create();
        var rate = 10.0;
        var passed = new ConcurrentQueue<TimeSpan>();
        var workers = Workers.Of<int>().Then(JobQueue.LimitJobSpeed(() => Volatile.Read(ref rate)), name: "paced").Then(_ => passed.Enqueue(clock.Elapsed));

        var run = JobQueue.RunAsync(Enumerable.Range(0, 3), workers, new JobOptions { TimeProvider = clock, Logger = logger.Object });
        clock.WaitTimerCreated("item 0's wait at 10/s");
        clock.Advance(Ms100);
        Bounded.Until(() => passed.Count == 1, "item 0 to pass");
        clock.WaitTimerCreated("item 1's wait at 10/s"); // the rate for item 1 has been read

        // Item 2 reads 2/s: the window at 10/s ends there and is reported with the limit it ran under.
        Volatile.Write(ref rate, 2.0);
        clock.Advance(Ms100);
        Bounded.Until(() => passed.Count == 2, "item 1 to pass");
        clock.WaitTimerCreated("item 2's wait at 2/s");
        clock.Advance(TimeSpan.FromMilliseconds(500));
        await run.Within();

        logger.VerifyLogged(LogLevel.Information, "(limit 10 units/s)", Times.Once());
        logger.VerifyLogged(LogLevel.Information, "(limit 2 units/s)", Times.Never());
    }

    [TestMethod]
    public async Task LimitJobSpeed_TimeoutWhileWaiting_RunReturnsTimedOutAndItemNotPassed()
    {
        var clock = new SignallingTimeProvider();
        var passed = new ConcurrentQueue<int>();
        var workers = Workers.Of<int>().Then(JobQueue.LimitJobSpeed(1)).Then(passed.Enqueue);

        var run = JobQueue.RunAsync(Enumerable.Range(0, 3), workers, new JobOptions { TimeProvider = clock, Timeout = TimeSpan.FromMilliseconds(500) });
        Bounded.Until(() => clock.TimersCreated == 2, "the timeout timer and item 0's wait");
        clock.Advance(TimeSpan.FromMilliseconds(500));
        var result = await run.Within();
        clock.Advance(TimeSpan.FromSeconds(5));

        Assert.IsTrue(result.TimedOut);
        Assert.IsEmpty(passed);
    }

    [TestMethod]
    public async Task LimitJobSpeed_RateFunctionThrows_WarningLoggedAndLastGoodRateKept()
    {
        var clock = new SignallingTimeProvider();
        var logger = LoggerMock.Create();
        var failure = new InvalidOperationException("rate source down");
        var calls = 0;
        var passed = new ConcurrentQueue<TimeSpan>();
        var limit = JobQueue.LimitJobSpeed(() => Interlocked.Increment(ref calls) == 1 ? 10 : throw failure);
        var workers = Workers.Of<int>().Then(limit, name: "flaky-rate").Then(_ => passed.Enqueue(clock.Elapsed));

        var run = JobQueue.RunAsync(Enumerable.Range(0, 2), workers, new JobOptions { TimeProvider = clock, Logger = logger.Object });
        clock.WaitTimerCreated("item 0's wait");
        clock.Advance(Ms100);
        Bounded.Until(() => passed.Count == 1, "item 0 to pass");
        clock.WaitTimerCreated("item 1's wait at the kept rate");
        clock.Advance(Ms100);
        await run.Within();

        CollectionAssert.AreEqual(new[] { Ms100, 2 * Ms100 }, passed.ToArray());
        logger.VerifyLogged(LogLevel.Warning, "flaky-rate", failure, Times.Once());
        logger.VerifyLogged(LogLevel.Warning, "10 units/s stays in force", Times.Once());
    }

    [TestMethod]
    public async Task LimitJobSpeed_RateFunctionBadBeforeAnyGoodReading_WarningSaysNoLimitStaysInForce()
    {
        var logger = LoggerMock.Create();
        var workers = Workers.Of<int>().Then(JobQueue.LimitJobSpeed(() => 0), name: "unread-rate");

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 2), workers, new JobOptions { Logger = logger.Object }).Within();

        Assert.IsTrue(result.Completed);
        logger.VerifyLogged(LogLevel.Warning, "no limit (no good reading yet) stays in force", Times.Exactly(2));
        logger.VerifyLogged(LogLevel.Warning, "NaN", Times.Never());
    }

    [TestMethod]
    [DataRow(double.Epsilon, 1)]
    [DataRow(1e-9, 1)]
    [DataRow(1.0, int.MaxValue)]
    public async Task LimitJobSpeed_RateFunctionTooSlowForATimer_EachItemWaitsTheLongestTimerWaitLoggedOnceNoneFailed(double rate, int jobStep)
    {
        // A constant rate this slow is refused by LimitJobSpeed itself; a function's rate is only known mid-run.
        var longest = TimeSpan.FromMilliseconds(uint.MaxValue - 1);
        var clock = new SignallingTimeProvider();
        var logger = LoggerMock.Create();
        var passed = new ConcurrentQueue<TimeSpan>();
        var workers = Workers.Of<int>().Then(JobQueue.LimitJobSpeed(() => rate, jobStep), name: "crawl").Then(_ => passed.Enqueue(clock.Elapsed));

        var run = JobQueue.RunAsync(Enumerable.Range(0, 3), workers, new JobOptions { TimeProvider = clock, Logger = logger.Object });
        for (var k = 1; k <= 3; k++)
        {
            clock.WaitTimerCreated($"item {k - 1}'s wait");
            clock.Advance(longest - TimeSpan.FromTicks(1));
            Assert.HasCount(k - 1, passed, $"item {k - 1} must wait the longest wait a timer can express");
            clock.Advance(TimeSpan.FromTicks(1));
            Bounded.Until(() => passed.Count == k, $"item {k - 1} to pass after the longest wait");
        }

        var result = await run.Within();

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(0, result.Failed, "the pacer never fails an item");
        CollectionAssert.AreEqual(new[] { longest, 2 * longest, 3 * longest }, passed.ToArray());
        logger.VerifyLogged(LogLevel.Warning, "crawl", Times.Once());
        logger.VerifyLogged(LogLevel.Warning, $"units/s at {jobStep} units per item", Times.Once());
    }

    [TestMethod]
    public async Task LimitJobSpeed_SameLimitInTwoStages_EachStagePacesOnItsOwn()
    {
        var clock = new SignallingTimeProvider();
        var limit = JobQueue.LimitJobSpeed(10);
        var passed = new ConcurrentQueue<TimeSpan>();
        var workers = Workers.Of<int>().Then(limit).Then(limit).Then(_ => passed.Enqueue(clock.Elapsed));

        var run = JobQueue.RunAsync([0], workers, new JobOptions { TimeProvider = clock });
        clock.WaitTimerCreated("the first stage's wait");
        clock.Advance(Ms100);
        clock.WaitTimerCreated("the second stage's own first wait");
        Assert.IsEmpty(passed);
        clock.Advance(Ms100);
        await run.Within();

        CollectionAssert.AreEqual(new[] { 2 * Ms100 }, passed.ToArray());
    }

    [TestMethod]
    [DataRow(0.0)]
    [DataRow(-1.0)]
    [DataRow(double.NaN)]
    [DataRow(double.NegativeInfinity)]
    public void LimitJobSpeed_MaxJobSpeedNotPositive_ThrowsOutOfRangeNamingIt(double maxJobSpeed)
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => JobQueue.LimitJobSpeed(maxJobSpeed));

        Assert.AreEqual("maxJobSpeed", ex.ParamName);
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(-5)]
    public void LimitJobSpeed_JobStepNotPositive_ThrowsOutOfRangeNamingIt(int jobStep)
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => JobQueue.LimitJobSpeed(10, jobStep));
        var exFunc = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => JobQueue.LimitJobSpeed(() => 10, jobStep));

        Assert.AreEqual("jobStep", ex.ParamName);
        Assert.AreEqual("jobStep", exFunc.ParamName);
        foreach (var error in new[] { ex, exFunc })
        {
            StringAssert.StartsWith(error.Message, $"LimitJobSpeed: jobStep must be a positive number of units per item; it was {jobStep}.");
        }
    }

    [TestMethod]
    public void LimitJobSpeed_NullRateFunction_ThrowsArgumentNull()
    {
        var ex = Assert.ThrowsExactly<ArgumentNullException>(() => JobQueue.LimitJobSpeed((Func<double>)null!));

        Assert.AreEqual("maxJobSpeed", ex.ParamName);
    }

    [TestMethod]
    public void LimitJobSpeed_ValidArguments_ExposesJobStep()
    {
        Assert.AreEqual(3, JobQueue.LimitJobSpeed(100, 3).JobStep);
        Assert.AreEqual(1, JobQueue.LimitJobSpeed(() => 5).JobStep);
    }

    [TestMethod]
    public async Task LimitJobSpeed_ClockCannotMakeTimers_RunRethrowsTheClocksExceptionAsAUserFault()
    {
        // The clock is the user's: its failure stops the run and is rethrown, as for the pipeline's own timers; it is
        // not a failure of the library, and the stage is left with no call in progress.
        var failure = new InvalidOperationException("no timers");
        var logger = LoggerMock.Create();
        var probe = new Probe();
        var workers = Workers.Of<int>().Then(JobQueue.LimitJobSpeed(50)).Then(x => x);

        var run = JobQueue.RunAsync(Enumerable.Range(0, 100), workers, new JobOptions { TimeProvider = new NoTimers(failure), Logger = logger.Object, Probe = probe });

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => run.Within());
        Assert.AreSame(failure, thrown);
        Assert.AreEqual(0, JobQueue.Stat(probe).Stages[0].Doing);
        logger.VerifyNotLogged(LogLevel.Critical);
    }

    [TestMethod]
    public async Task LimitJobSpeed_ClockStepsBackAnHour_TheWindowRestartsAndTheNextItemWaitsOneInterval()
    {
        // A wall-clock adjustment seen through the clock: the window's elapsed time turns negative. The pace restarts
        // from that moment rather than hold the next item back for the hour the clock lost.
        var clock = new SteppingClock();
        var passed = new ConcurrentQueue<int>();
        var workers = Workers.Of<int>().Then(JobQueue.LimitJobSpeed(10)).Then(passed.Enqueue);

        var run = JobQueue.RunAsync(Enumerable.Range(0, 4), workers, new JobOptions { TimeProvider = clock });
        for (var k = 1; k <= 4; k++)
        {
            clock.Inner.WaitTimerCreated($"the limiter to wait for item {k - 1}");
            if (k == 3)
            {
                clock.StepBack(TimeSpan.FromHours(1));
            }

            clock.Inner.Advance(Ms100);
            Bounded.Until(() => passed.Count >= k - 1, $"items before {k - 1} to pass");
        }

        Bounded.Until(() => passed.Count == 4, "the last item to pass one interval after the step back");
        await run.Within();
        CollectionAssert.AreEqual(Enumerable.Range(0, 4).ToArray(), passed.ToArray());
    }

    /// <summary>A clock whose timers cannot be made.</summary>
    private sealed class NoTimers(Exception failure) : TimeProvider
    {
        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => throw failure;
    }

    /// <summary>A fake clock whose timestamps can be stepped back, as a wall clock adjusted by the system.</summary>
    private sealed class SteppingClock : TimeProvider
    {
        private long _back;

        public SignallingTimeProvider Inner { get; } = new();

        public override long TimestampFrequency => Inner.TimestampFrequency;

        public override long GetTimestamp() => Inner.GetTimestamp() - Volatile.Read(ref _back);

        public override DateTimeOffset GetUtcNow() => Inner.GetUtcNow();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => Inner.CreateTimer(callback, state, dueTime, period);

        public void StepBack(TimeSpan by) => Interlocked.Add(ref _back, (long)(by.TotalSeconds * TimestampFrequency));
    }
}
