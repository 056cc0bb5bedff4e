using JobQ.Dataflow.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace JobQ.Dataflow.Tests.Pipeline;

/// <summary>
/// The run's clock is the user's: a timer whose <c>Dispose</c> throws, or no timer at all, is the clock failing. The run
/// must end and rethrow that failure where the run's other failures surface; it must neither hang, nor crash a timer's
/// thread, nor go on without its timeout.
/// </summary>
[TestClass]
public sealed class BrokenClockTests
{
    private static readonly InvalidOperationException Failure = new("timer dispose failed");

    [TestMethod]
    public async Task RunAsync_TimeoutTimersDisposalThrows_FaultsWithThatExceptionOnceTheItemsAreProcessed()
    {
        var seen = 0;
        var options = new JobOptions { Timeout = TimeSpan.FromMinutes(5), TimeProvider = new DisposeThrowingClock(TimeProvider.System), Logger = NullLogger.Instance };

        var run = JobQueue.RunAsync([1, 2, 3], Workers.Of<int>().Then(x => { Interlocked.Increment(ref seen); }), options);

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => run.Within());
        Assert.AreSame(Failure, thrown);
        Assert.AreEqual(3, seen);
    }

    [TestMethod]
    public async Task Run_ProgressTimersDisposalThrows_ThrowsThatExceptionOnceTheItemsAreProcessed()
    {
        var seen = 0;
        var options = new JobOptions { Progress = new Progress<JobStats>(), TimeProvider = new DisposeThrowingClock(TimeProvider.System), Logger = NullLogger.Instance };

        var run = Task.Run(() => JobQueue.Run([1, 2, 3], Workers.Of<int>().Then(x => { Interlocked.Increment(ref seen); }), options));

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => run.Within());
        Assert.AreSame(Failure, thrown);
        Assert.AreEqual(3, seen);
    }

    [TestMethod]
    public async Task RunAsync_TimeoutPassesWithAProgressTimerWhoseDisposalThrows_RunRethrowsItAndNoTimerThreadFails()
    {
        // The timeout's callback ends the run (only the held call is left), which disposes the progress timer on the
        // timer's own thread: the failure must reach the run, not escape that thread.
        using var gate = new Gate();
        var fake = new FakeTimeProvider();
        var clock = new DisposeThrowingClock(fake);
        var options = new JobOptions { Timeout = TimeSpan.FromSeconds(1), Progress = new Progress<JobStats>(), ProgressInterval = TimeSpan.FromMinutes(1), TimeProvider = clock, Logger = NullLogger.Instance };
        var unobserved = 0;
        void OnUnhandled(object? sender, UnhandledExceptionEventArgs e) => Interlocked.Increment(ref unobserved);
        AppDomain.CurrentDomain.UnhandledException += OnUnhandled;
        try
        {
            var run = JobQueue.RunAsync([1, 2], Workers.Of<int>().Then(x => gate.Pass()), options);
            await Task.Run(() => gate.WaitArrivals(1)).Within();
            await clock.TimersCreated(2).Within();
            fake.Advance(TimeSpan.FromSeconds(1));

            var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => run.Within());
            Assert.AreSame(Failure, thrown);
            Assert.AreEqual(0, Volatile.Read(ref unobserved));
        }
        finally
        {
            gate.Open();
            AppDomain.CurrentDomain.UnhandledException -= OnUnhandled;
        }
    }

    [TestMethod]
    public async Task Join_TimersDisposalThrows_ThrowsThatExceptionAndDisposeDoesNot()
    {
        var seen = 0;
        var manager = JobManager.Create(Workers.Of<int>().Then(x => { Interlocked.Increment(ref seen); }), new JobOptions { Progress = new Progress<JobStats>(), TimeProvider = new DisposeThrowingClock(TimeProvider.System), Logger = NullLogger.Instance });
        manager.Put(1);
        manager.Put(2);

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => Task.Run(() => manager.Join(TimeSpan.FromMinutes(5))).Within());
        Assert.AreSame(Failure, thrown);
        Assert.AreEqual(2, seen);
        manager.Dispose();
    }

    [TestMethod]
    public async Task RunAsync_ClockReturnsNoTimerForTheTimeout_FaultsWithInvalidOperationNamingCreateTimer()
    {
        var run = JobQueue.RunAsync([1, 2, 3], Workers.Of<int>().Then(x => x), new JobOptions { Timeout = TimeSpan.FromSeconds(5), TimeProvider = new NoTimer(), Logger = NullLogger.Instance });

        var thrown = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => run.Within());
        Assert.Contains("CreateTimer", thrown.Message);
    }

    /// <summary>A clock that breaks its contract: CreateTimer returns null.</summary>
    private sealed class NoTimer : TimeProvider
    {
        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => null!;
    }

    /// <summary>A clock whose timers work, but throw when disposed.</summary>
    private sealed class DisposeThrowingClock(TimeProvider inner) : TimeProvider
    {
        private int _created;
        private readonly List<(int Count, TaskCompletionSource Signal)> _waiters = [];

        public override long TimestampFrequency => inner.TimestampFrequency;

        public override long GetTimestamp() => inner.GetTimestamp();

        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

        public Task TimersCreated(int count)
        {
            lock (_waiters)
            {
                var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add((count, signal));
                Check();
                return signal.Task;
            }
        }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = new Timer(inner.CreateTimer(callback, state, dueTime, period));
            lock (_waiters)
            {
                _created++;
                Check();
            }

            return timer;
        }

        private void Check()
        {
            foreach (var (count, signal) in _waiters)
            {
                if (_created >= count)
                {
                    signal.TrySetResult();
                }
            }
        }

        private sealed class Timer(ITimer timer) : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => timer.Change(dueTime, period);

            public void Dispose()
            {
                timer.Dispose();
                throw Failure;
            }

            public ValueTask DisposeAsync()
            {
                Dispose();
                return default;
            }
        }
    }
}
