using System.Collections.Concurrent;
using System.Globalization;
using JobQ.Dataflow.Internal;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Engine;

/// <summary>
/// <see cref="DedicatedThreadScheduler"/> and its <see cref="DedicatedThread"/>s, driven with plain tasks: every task
/// starts at once, on a dedicated thread while fewer than <see cref="DedicatedThreadScheduler.Limit"/> of the
/// scheduler's tasks hold one, on the pool otherwise or while the stage reads cheap; idle threads are reused by any
/// scheduler and start each task clean.
/// </summary>
[TestClass]
public sealed class DedicatedThreadSchedulerTests
{
    /// <summary>How many times a test that needs two tasks on one thread tries before it concludes threads are not reused.</summary>
    private const int ReuseAttempts = 5;

    private static Task Start(TaskScheduler scheduler, Action action)
        => Task.Factory.StartNew(action, CancellationToken.None, TaskCreationOptions.None, scheduler);

    private static Task<T> Start<T>(TaskScheduler scheduler, Func<T> function)
        => Task.Factory.StartNew(function, CancellationToken.None, TaskCreationOptions.None, scheduler);

    /// <summary>Starts a task that captured no execution context, as one created under <see cref="ExecutionContext.SuppressFlow"/>.</summary>
    private static Task<T> StartWithoutFlow<T>(TaskScheduler scheduler, Func<T> function)
    {
        using (ExecutionContext.SuppressFlow())
        {
            return Start(scheduler, function);
        }
    }

    /// <summary>Whether <paramref name="thread"/> waits idle for its next task: named idle and blocked in its wait.</summary>
    private static bool IsParked(Thread thread)
        => thread.Name == DedicatedThread.IdleName && (thread.ThreadState & ThreadState.WaitSleepJoin) != 0;

    /// <summary>
    /// Runs <paramref name="first"/> as a task of one scheduler, waits until its thread is idle, then runs
    /// <paramref name="second"/> as a task of another scheduler, until both ran on the same thread (an idle thread
    /// another test left behind may be picked first). Returns what <paramref name="second"/> saw on that thread.
    /// </summary>
    private static async Task<T> OnOneThreadAsync<T>(Action first, Func<T> second, bool flow = true)
    {
        var start = flow ? (Func<TaskScheduler, Func<(Thread, T)>, Task<(Thread, T)>>)Start : StartWithoutFlow;
        var schedulerA = new DedicatedThreadScheduler("JobQ test first", 4);
        var schedulerB = new DedicatedThreadScheduler("JobQ test second", 4);
        for (var attempt = 0; attempt < ReuseAttempts; attempt++)
        {
            var (firstThread, _) = await start(schedulerA, () =>
            {
                first();
                return (Thread.CurrentThread, default!);
            }).Within();
            Bounded.Until(() => IsParked(firstThread), "the first task's thread to go idle");

            var (secondThread, seen) = await start(schedulerB, () => (Thread.CurrentThread, second())).Within();
            if (secondThread == firstThread)
            {
                return seen;
            }
        }

        Assert.Fail($"No two tasks ran on one thread in {ReuseAttempts} attempts: idle threads are not reused.");
        return default!;
    }

    [TestMethod]
    public async Task QueueTask_TenTasksWaitingOnABarrierWithLimitEleven_AllMeetOnDedicatedThreads()
    {
        var scheduler = new DedicatedThreadScheduler("JobQ test barrier", 11);
        var worker = new BarrierWorker(new Barrier(10));

        var tasks = Enumerable.Range(0, 10).Select(i => Start(scheduler, () => worker.Meet(i))).ToArray();
        await Task.WhenAll(tasks).Within();

        Assert.HasCount(10, worker.Met);
        Assert.IsTrue(worker.Met.All(met => met), "every task met the others at the barrier");
        Assert.AreEqual(0, worker.CallsOnThreadPool);
        Assert.HasCount(10, worker.Threads);
    }

    [TestMethod]
    public async Task QueueTask_LimitOneAndOneTaskHeld_SecondTaskRunsOnThePoolMeanwhile()
    {
        var scheduler = new DedicatedThreadScheduler("JobQ test limit one", 1);
        using var started = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var held = Start(scheduler, () =>
        {
            started.Set();
            var released = release.Wait(Bounded.Limit);
            return (Thread.CurrentThread.IsThreadPoolThread, released);
        });
        Assert.IsTrue(started.Wait(Bounded.Limit), "the first task started");

        var second = await Start(scheduler, () => Thread.CurrentThread.IsThreadPoolThread).Within();

        Assert.IsTrue(second, "the second task ran on the thread pool");
        Assert.IsFalse(held.IsCompleted, "the first task is still held");
        Assert.AreEqual(1, scheduler.Running);
        release.Set();
        var (firstOnPool, firstReleased) = await held.Within();
        Assert.IsFalse(firstOnPool, "the first task ran on a dedicated thread");
        Assert.IsTrue(firstReleased);
    }

    [TestMethod]
    public async Task QueueTask_CheapRunLength_RunsOnThePool()
    {
        var cost = new RunLength(1000, 1);
        for (var i = 0; i < RunLength.CheapRunsInARow; i++)
        {
            cost.Record(10, 0);
        }

        Assert.IsTrue(cost.IsCheap);
        var scheduler = new DedicatedThreadScheduler("JobQ test cheap", 4, cost);

        var onPool = await Start(scheduler, () => (Thread.CurrentThread.IsThreadPoolThread, scheduler.Running)).Within();

        Assert.IsTrue(onPool.IsThreadPoolThread);
        Assert.AreEqual(0, onPool.Running, "a pool task holds no dedicated thread");
    }

    [TestMethod]
    public async Task QueueTask_RunLengthNotMeasuredOrSlow_RunsOnADedicatedThread()
    {
        var cost = new RunLength(1000, 1);
        var scheduler = new DedicatedThreadScheduler("JobQ test slow", 4, cost);

        var unmeasured = await Start(scheduler, () => Thread.CurrentThread.IsThreadPoolThread).Within();
        cost.Record(1, RunLength.CheapCallTicks);
        Assert.IsFalse(cost.IsCheap);
        var slow = await Start(scheduler, () => Thread.CurrentThread.IsThreadPoolThread).Within();

        Assert.IsFalse(unmeasured, "not measured: dedicated");
        Assert.IsFalse(slow, "measured slow: dedicated");
    }

    [TestMethod]
    public async Task QueueTask_RunLengthTurnsCheap_LaterTasksGoToThePool()
    {
        var cost = new RunLength(1000, 1);
        var scheduler = new DedicatedThreadScheduler("JobQ test turns cheap", 4, cost);
        var before = await Start(scheduler, () => Thread.CurrentThread.IsThreadPoolThread).Within();

        for (var i = 0; i < RunLength.CheapRunsInARow; i++)
        {
            cost.Record(1, 0);
        }

        var after = await Start(scheduler, () => Thread.CurrentThread.IsThreadPoolThread).Within();

        Assert.IsFalse(before);
        Assert.IsTrue(after);
    }

    [TestMethod]
    public async Task QueueTask_DedicatedThread_IsNamedAfterTheSchedulerAndBackground()
    {
        var scheduler = new DedicatedThreadScheduler("JobQ test name", 2);

        var (name, background, pool) = await Start(scheduler, () =>
            (Thread.CurrentThread.Name, Thread.CurrentThread.IsBackground, Thread.CurrentThread.IsThreadPoolThread)).Within();

        Assert.AreEqual("JobQ test name", name);
        Assert.IsTrue(background);
        Assert.IsFalse(pool);
    }

    [TestMethod]
    public async Task QueueTask_ThreadWentIdle_ReusedWithTheSameIdAndNamedIdleInBetween()
    {
        var first = new DedicatedThreadScheduler("JobQ test reuse first", 2);
        var second = new DedicatedThreadScheduler("JobQ test reuse second", 2);
        var reused = false;
        for (var attempt = 0; attempt < ReuseAttempts && !reused; attempt++)
        {
            var (thread, id, firstName) = await Start(first, () =>
                (Thread.CurrentThread, Environment.CurrentManagedThreadId, Thread.CurrentThread.Name)).Within();
            Assert.AreEqual("JobQ test reuse first", firstName);
            Bounded.Until(() => IsParked(thread), "the thread to go idle");
            Assert.AreEqual(DedicatedThread.IdleName, thread.Name);
            Assert.IsTrue(thread.IsAlive);

            var (secondId, secondName) = await Start(second, () => (Environment.CurrentManagedThreadId, Thread.CurrentThread.Name)).Within();

            if (secondId == id)
            {
                Assert.AreEqual("JobQ test reuse second", secondName, "a reused thread takes the name of its new scheduler");
                reused = true;
            }
        }

        Assert.IsTrue(reused, $"an idle thread was reused within {ReuseAttempts} attempts");
    }

    [TestMethod]
    public async Task QueueTask_AsyncLocalSetByCreator_SeenInTheTask()
    {
        var scheduler = new DedicatedThreadScheduler("JobQ test context", 2);
        var local = new AsyncLocal<string>();
        local.Value = "set by the creator";

        var (seen, pool) = await Start(scheduler, () => (local.Value, Thread.CurrentThread.IsThreadPoolThread)).Within();

        Assert.AreEqual("set by the creator", seen);
        Assert.IsFalse(pool);
    }

    [TestMethod]
    public async Task QueueTask_AsyncLocalSetByATask_NotSeenByTheNextTaskOnTheThread()
    {
        var local = new AsyncLocal<string>();

        var seen = await OnOneThreadAsync(() => local.Value = "left by the first task", () => local.Value);

        Assert.IsNull(seen);
    }

    [TestMethod]
    public async Task QueueTask_CultureSetByATask_NotSeenByTheNextTaskOnTheThread()
    {
        var culture = (CultureInfo)CultureInfo.InvariantCulture.Clone();

        var (current, ui) = await OnOneThreadAsync(
            () =>
            {
                CultureInfo.CurrentCulture = culture;
                CultureInfo.CurrentUICulture = culture;
            },
            () => (CultureInfo.CurrentCulture, CultureInfo.CurrentUICulture));

        Assert.AreNotSame(culture, current);
        Assert.AreNotSame(culture, ui);
    }

    [TestMethod]
    public async Task QueueTask_CultureSetByATaskThatCapturedNoContext_NotSeenByTheNextTaskOnTheThread()
    {
        // Tasks created under ExecutionContext.SuppressFlow run on the thread's own context, which the thread must
        // clear as the thread pool does; otherwise a worker's culture reaches the next stage's worker.
        var culture = (CultureInfo)CultureInfo.InvariantCulture.Clone();

        var current = await OnOneThreadAsync(() => CultureInfo.CurrentCulture = culture, () => CultureInfo.CurrentCulture, flow: false);

        Assert.AreNotSame(culture, current);
    }

    [TestMethod]
    public async Task QueueTask_ThreadStartedUnderTheCreatorsAsyncLocal_LaterTaskWithoutContextSeesNone()
    {
        // A new thread must not keep the context of the code that happened to start it: a later task that captured
        // none (its creator suppressed the flow) runs in the thread's own context, and would see that code's
        // async-locals (a tenant, an Activity) and keep them alive for as long as the thread lives.
        const int Tasks = 20;
        var local = new AsyncLocal<string>();
        using var holdIdle = new Gate();
        using var holdNew = new Gate();

        // Every idle thread taken first, so that the tasks below start new threads.
        var soak = new DedicatedThreadScheduler("JobQ test soak", Tasks);
        var soaked = Enumerable.Range(0, Tasks).Select(_ => StartWithoutFlow(soak, () => { holdIdle.Pass(); return 0; })).ToArray();
        Bounded.Until(() => holdIdle.Arrivals == Tasks, "every idle thread to be taken");

        local.Value = "the starter's";
        var starter = new DedicatedThreadScheduler("JobQ test starter", Tasks);
        var started = Enumerable.Range(0, Tasks).Select(_ => Start(starter, () => { holdNew.Pass(); return Thread.CurrentThread; })).ToArray();
        Bounded.Until(() => holdNew.Arrivals == Tasks, "every new thread to start");
        local.Value = null!;
        holdNew.Open();
        var threads = await Task.WhenAll(started).Within();
        Bounded.Until(() => threads.All(t => IsParked(t) || !t.IsAlive), "the new threads to go idle");

        var later = new DedicatedThreadScheduler("JobQ test later", Tasks);
        var seen = await Task.WhenAll(Enumerable.Range(0, Tasks).Select(_ => StartWithoutFlow(later, () => local.Value))).Within();
        holdIdle.Open();
        await Task.WhenAll(soaked).Within();

        CollectionAssert.AreEqual(new string?[Tasks], seen, "what tasks without a context saw of the starter's async-local");
    }

    [TestMethod]
    public async Task QueueTask_PrioritySetByATask_NextTaskOnTheThreadRunsAtNormal()
    {
        var priority = await OnOneThreadAsync(
            () => Thread.CurrentThread.Priority = ThreadPriority.Lowest,
            () => Thread.CurrentThread.Priority);

        Assert.AreEqual(ThreadPriority.Normal, priority);
    }

    [TestMethod]
    public async Task QueueTask_ForegroundSetByATask_NextTaskOnTheThreadRunsInTheBackground()
    {
        var background = await OnOneThreadAsync(
            () => Thread.CurrentThread.IsBackground = false,
            () => Thread.CurrentThread.IsBackground);

        Assert.IsTrue(background);
    }

    [TestMethod]
    public async Task QueueTask_InterruptLeftPendingByATask_NextTaskOnTheThreadBlocksUninterrupted()
    {
        var interrupted = await OnOneThreadAsync(
            () => Thread.CurrentThread.Interrupt(),
            () =>
            {
                var gate = new object();
                try
                {
                    lock (gate)
                    {
                        // A blocking wait: a pending interrupt would throw here.
                        Monitor.Wait(gate, 1);
                    }

                    return false;
                }
                catch (ThreadInterruptedException)
                {
                    return true;
                }
            });

        Assert.IsFalse(interrupted);
    }

    [TestMethod]
    public async Task QueueTask_InterruptLeftPending_ThreadStillRunsLaterTasks()
    {
        var scheduler = new DedicatedThreadScheduler("JobQ test interrupted", 2);
        await Start(scheduler, () => Thread.CurrentThread.Interrupt()).Within();

        var ran = new ConcurrentQueue<int>();
        for (var i = 0; i < 3; i++)
        {
            var item = i;
            await Start(scheduler, () => ran.Enqueue(item)).Within();
        }

        CollectionAssert.AreEqual(new[] { 0, 1, 2 }, ran.ToArray());
    }

    [TestMethod]
    public async Task Running_TasksHeldThenReleased_CountsDedicatedTasksBackToZero()
    {
        var scheduler = new DedicatedThreadScheduler("JobQ test running", 3);
        using var release = new ManualResetEventSlim();
        using var arrived = new CountdownEvent(3);
        var tasks = Enumerable.Range(0, 3).Select(_ => Start(scheduler, () =>
        {
            arrived.Signal();
            release.Wait(Bounded.Limit);
        })).ToArray();
        Assert.IsTrue(arrived.Wait(Bounded.Limit));
        var held = scheduler.Running;

        release.Set();
        await Task.WhenAll(tasks).Within();
        Bounded.Until(() => scheduler.Running == 0, "every dedicated task to end");

        Assert.AreEqual(3, held);
        Assert.AreEqual(0, scheduler.Running);
    }

    [TestMethod]
    public async Task QueueTask_TaskThrows_TaskFaultsAndTheSchedulerKeepsGoing()
    {
        var scheduler = new DedicatedThreadScheduler("JobQ test throws", 1);
        var error = new InvalidOperationException("worker failed");

        var failing = Start(scheduler, () => throw error);
        var thrown = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => failing.Within());
        Bounded.Until(() => scheduler.Running == 0, "the failed task to release its thread");
        var next = await Start(scheduler, () => Thread.CurrentThread.IsThreadPoolThread).Within();

        Assert.AreSame(error, thrown);
        Assert.IsFalse(next, "the next task got a dedicated thread");
    }

    [TestMethod]
    public async Task TryExecuteTaskInline_RunSynchronously_RunsOnAnotherThread()
    {
        var scheduler = new DedicatedThreadScheduler("JobQ test inline", 2);
        var caller = -1;
        var ranOn = 0;
        var task = new Task(() => ranOn = Environment.CurrentManagedThreadId);

        // On a pool thread of its own, so that the wait for the task stays bounded.
        await Task.Run(() =>
        {
            caller = Environment.CurrentManagedThreadId;
            task.RunSynchronously(scheduler);
        }).Within();

        Assert.IsTrue(task.IsCompletedSuccessfully);
        Assert.AreNotEqual(0, ranOn);
        Assert.AreNotEqual(caller, ranOn);
    }

    [TestMethod]
    public async Task TryExecuteTaskInline_TaskWaitsForAnotherOfTheScheduler_OtherRunsElsewhere()
    {
        var scheduler = new DedicatedThreadScheduler("JobQ test wait", 4);

        var (outer, inner) = await Start(scheduler, () =>
        {
            var innerTask = new Task<int>(() => Environment.CurrentManagedThreadId);
            innerTask.RunSynchronously(scheduler);
            return (Environment.CurrentManagedThreadId, innerTask.Result);
        }).Within();

        Assert.AreNotEqual(outer, inner);
    }
}
