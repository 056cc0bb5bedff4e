using System.Diagnostics;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Management;

[TestClass]
[TestCategory("Stress")]
public sealed class JobManagerStressTests(TestContext testContext)
{
    private const int Items = 100_000;
    private const int Resizers = 3;
    private static readonly TimeSpan StressBound = TimeSpan.FromSeconds(60);

    // Flatness tolerances for 1,000 cycles: one leaked pipeline per cycle would cost thousands of threads and
    // several megabytes; the slack covers thread-pool threads the runtime may add and retire on its own schedule.
    private const int ThreadTolerance = 8;
    private const long MemoryTolerance = 2 * 1024 * 1024;

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task SetThreadNum_RandomResizesWhileFourThreadsPut_EveryItemComesOutExactlyOnce()
    {
        const int Putters = 4;
        var counts = new int[Items];
        Func<int, int> transform = static i =>
        {
            Thread.SpinWait(200); // workload: keeps calls in progress while the stage is resized
            return i;
        };
        Func<int, Task<int>> transformAsync = static async i =>
        {
            if (i % 16 == 0)
            {
                await Task.Yield();
            }

            return i;
        };
        await using var manager = JobManager.Create(
            Workers.Of<int>()
                .Then(transform, threads: 2)
                .Then(transformAsync, threads: 2)
                .Then(i => { Interlocked.Increment(ref counts[i]); }, threads: 2),
            queueSize: 256);
        Delegate[] resizable = [transform, transformAsync];

        using var stop = new CancellationTokenSource();
        var resizes = new int[1];
        var resizers = StartResizers(manager, resizable, resizes, stop.Token);
        var badSnapshots = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var sampler = Task.Factory.StartNew(
            () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    foreach (var stage in manager.Stat().Stages.Take(2))
                    {
                        if (stage.Doing < 0 || stage.Doing > 8 || stage.WorkerCount is < 1 or > 8)
                        {
                            badSnapshots.Enqueue($"{stage.Name}: Doing {stage.Doing}, WorkerCount {stage.WorkerCount}");
                        }
                    }

                    Thread.Yield();
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        var putters = Enumerable.Range(0, Putters).Select(t => Task.Factory.StartNew(
            () =>
            {
                for (var i = t; i < Items; i += Putters)
                {
                    manager.Put(i);
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default)).ToArray();

        await Task.WhenAll(putters).WaitAsync(StressBound, testContext.CancellationToken);

        // The resizers keep going while Join runs: there SetThreadNum must be a quiet no-op.
        Assert.IsTrue(await manager.JoinAsync().WaitAsync(StressBound, testContext.CancellationToken));
        await stop.CancelAsync();
        await Task.WhenAll(resizers).WaitAsync(StressBound, testContext.CancellationToken);
        await sampler.WaitAsync(StressBound, testContext.CancellationToken);

        testContext.WriteLine($"{Volatile.Read(ref resizes[0])} resizes while {Items} items went through.");
        var wrong = counts.Select((n, i) => (Item: i, Count: n)).Where(x => x.Count != 1).Take(10).ToArray();
        Assert.IsEmpty(wrong, $"Items not seen exactly once (item, count): {string.Join(", ", wrong)}");
        Assert.IsGreaterThan(10, Volatile.Read(ref resizes[0]), "The resizers barely ran; the test did not stress anything.");
        var stats = manager.Stat();
        for (var stage = 0; stage < 3; stage++)
        {
            Assert.AreEqual(Items, stats.Stages[stage].In, $"Stage {stage} In, counted across workers that came and went.");
            Assert.AreEqual(Items, stats.Stages[stage].Out, $"Stage {stage} Out, counted across workers that came and went.");
        }

        Assert.AreEqual(0, stats.Doing);
        Assert.IsEmpty(badSnapshots, string.Join("; ", badSnapshots.Take(5)));
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task SetThreadNum_RandomResizesWithKeepOrder_ItemsComeOutInExactOrder()
    {
        var collected = new List<int>(Items);
        Func<int, int> transform = static i =>
        {
            // Workload: calls are in progress while the stage is resized, and some are much slower, so lanes finish out of order.
            Thread.SpinWait(i % 1_000 == 0 ? 20_000 : 200);

            return i;
        };
        Func<int, Task<int>> transformAsync = static async i =>
        {
            if (i % 16 == 0)
            {
                await Task.Yield();
            }

            return i;
        };
        await using var manager = JobManager.Create(
            Workers.Of<int>()
                .Then(transform, threads: 2)
                .Then(transformAsync, threads: 2)
                .Then(collected.Add),
            queueSize: 256,
            keepOrder: true);
        Delegate[] resizable = [transform, transformAsync];

        using var stop = new CancellationTokenSource();
        var resizes = new int[1];
        var resizers = StartResizers(manager, resizable, resizes, stop.Token);
        var putter = Task.Factory.StartNew(
            () =>
            {
                for (var i = 0; i < Items; i++)
                {
                    manager.Put(i);
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

        await putter.WaitAsync(StressBound, testContext.CancellationToken);
        Assert.IsTrue(await manager.JoinAsync().WaitAsync(StressBound, testContext.CancellationToken));
        await stop.CancelAsync();
        await Task.WhenAll(resizers).WaitAsync(StressBound, testContext.CancellationToken);

        testContext.WriteLine($"{Volatile.Read(ref resizes[0])} resizes while {Items} items went through.");
        Assert.HasCount(Items, collected);
        var firstWrong = Enumerable.Range(0, Items).FirstOrDefault(i => collected[i] != i, -1);
        Assert.AreEqual(-1, firstWrong, firstWrong < 0 ? string.Empty : $"Position {firstWrong} holds item {collected[firstWrong]}.");
        Assert.IsGreaterThan(10, Volatile.Read(ref resizes[0]), "The resizers barely ran; the test did not stress anything.");
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public void JobManager_ThousandCreatePutJoinCycles_ThreadsAndMemoryStayFlat()
    {
        // Warm up: JIT, thread pool, array pools.
        RunCycles(100, testContext.CancellationToken);
        var threadsBefore = CountThreads();
        var memoryBefore = SettledMemory();

        RunCycles(1_000, testContext.CancellationToken);

        var threadsAfter = int.MaxValue;
        Bounded.Until(
            () =>
            {
                threadsAfter = CountThreads();
                return threadsAfter <= threadsBefore + ThreadTolerance;
            },
            "the process's thread count came back near its level before the cycles");
        var memoryAfter = SettledMemory();
        testContext.WriteLine($"Threads {threadsBefore} -> {threadsAfter}; managed memory {memoryBefore:N0} -> {memoryAfter:N0} bytes.");
        Assert.IsLessThan(
            memoryBefore + MemoryTolerance,
            memoryAfter,
            $"Managed memory grew from {memoryBefore:N0} to {memoryAfter:N0} bytes over 1,000 cycles.");
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task PutAsync_CancellationsRacingWithFreedRoom_ExactlyTheAcceptedItemsAreProcessedOnce()
    {
        const int Putters = 4;
        const int PerPutter = 5_000;
        var counts = new int[Putters * PerPutter];
        var accepted = new bool[Putters * PerPutter];
        var cancelled = 0;
        Action<int> count = i =>
        {
            Thread.SpinWait(100); // workload: keeps the queue of two full most of the time
            Interlocked.Increment(ref counts[i]);
        };
        await using var manager = JobManager.Create(Workers.Of<int>().Then(count, threads: 2), queueSize: 2);

        var putters = Enumerable.Range(0, Putters).Select(p => Task.Run(async () =>
        {
            var random = new Random(p);
            for (var k = 0; k < PerPutter; k++)
            {
                var item = (k * Putters) + p;
                using var cancel = new CancellationTokenSource();
                var put = manager.PutAsync(item, cancel.Token);
                if (random.Next(3) == 0)
                {
                    await cancel.CancelAsync().ConfigureAwait(false);
                }

                try
                {
                    await put.ConfigureAwait(false);
                    accepted[item] = true;
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref cancelled);
                }
            }
        })).ToArray();

        await Task.WhenAll(putters).WaitAsync(StressBound, testContext.CancellationToken);
        Assert.IsTrue(await manager.JoinAsync().WaitAsync(StressBound, testContext.CancellationToken));

        testContext.WriteLine($"{cancelled} of {counts.Length} puts were cancelled while waiting for room.");
        var wrong = Enumerable.Range(0, counts.Length)
            .Where(i => counts[i] != (accepted[i] ? 1 : 0))
            .Select(i => $"item {i}: accepted {accepted[i]}, processed {counts[i]} times")
            .Take(10)
            .ToArray();
        Assert.IsEmpty(wrong, string.Join("; ", wrong));
        Assert.IsGreaterThan(0, cancelled, "No put was cancelled while waiting: the race was not exercised.");
        Assert.AreEqual(accepted.Count(a => a), manager.Stat().Stages[0].Out);
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public void JobManager_ThousandCreatePutDisposeCyclesWithoutJoin_ThreadsAndMemoryStayFlat()
    {
        RunCycles(100, testContext.CancellationToken, join: false);
        var threadsBefore = CountThreads();
        var memoryBefore = SettledMemory();

        RunCycles(1_000, testContext.CancellationToken, join: false);

        var threadsAfter = int.MaxValue;
        Bounded.Until(
            () =>
            {
                threadsAfter = CountThreads();
                return threadsAfter <= threadsBefore + ThreadTolerance;
            },
            "the process's thread count came back near its level before the cycles");
        var memoryAfter = SettledMemory();
        testContext.WriteLine($"Threads {threadsBefore} -> {threadsAfter}; managed memory {memoryBefore:N0} -> {memoryAfter:N0} bytes.");
        Assert.IsLessThan(
            memoryBefore + MemoryTolerance,
            memoryAfter,
            $"Managed memory grew from {memoryBefore:N0} to {memoryAfter:N0} bytes over 1,000 cycles.");
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task Put_FromFourThreadsRacingJoin_ExactlyTheAcceptedItemsAreProcessedOnce()
    {
        const int Putters = 4;
        const int Rounds = 50;
        const int PerPutter = 2_000;
        var racedRounds = 0;
        for (var round = 0; round < Rounds; round++)
        {
            var counts = new int[Putters * PerPutter];
            var accepted = new bool[Putters * PerPutter];
            var refused = 0;
            await using var manager = JobManager.Create(
                Workers.Of<int>().Then(i => { Interlocked.Increment(ref counts[i]); }, threads: 2),
                queueSize: 16);
            using var start = new Barrier(Putters + 1);
            var putters = Enumerable.Range(0, Putters).Select(p => Task.Factory.StartNew(
                () =>
                {
                    start.SignalAndWait(Bounded.Limit);
                    for (var k = 0; k < PerPutter; k++)
                    {
                        var item = (k * Putters) + p;
                        try
                        {
                            manager.Put(item);
                            accepted[item] = true;
                        }
                        catch (InvalidOperationException)
                        {
                            Interlocked.Increment(ref refused);
                        }
                    }
                },
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default)).ToArray();

            start.SignalAndWait(Bounded.Limit);

            // Workload pacing: let the putters get going for a varying while before Join races them.
            Thread.SpinWait(round * 2_000);
            Assert.IsTrue(await manager.JoinAsync().WaitAsync(StressBound, testContext.CancellationToken));
            await Task.WhenAll(putters).WaitAsync(StressBound, testContext.CancellationToken);

            var wrong = Enumerable.Range(0, counts.Length)
                .Where(i => counts[i] != (accepted[i] ? 1 : 0))
                .Select(i => $"item {i}: accepted {accepted[i]}, processed {counts[i]} times")
                .Take(10)
                .ToArray();
            Assert.IsEmpty(wrong, $"Round {round}: {string.Join("; ", wrong)}");
            Assert.AreEqual(counts.Length, accepted.Count(a => a) + Volatile.Read(ref refused));
            if (refused > 0 && refused < counts.Length)
            {
                racedRounds++;
            }
        }

        testContext.WriteLine($"Join cut the puts short in {racedRounds} of {Rounds} rounds.");
        Assert.IsGreaterThan(0, racedRounds, "Join never raced the puts: the test exercised nothing.");
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task JoinAndDispose_RacingFromTwoThreads_NeitherHangsNorThrowsUnexpectedly()
    {
        for (var round = 0; round < 300; round++)
        {
            var spy = new WorkerSpy();
            var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work, threads: 2).Then(spy.WorkAsync), queueSize: 8);
            for (var i = 0; i < 20; i++)
            {
                manager.Put(i);
            }

            using var start = new Barrier(2);
            var join = Task.Factory.StartNew(
                () =>
                {
                    start.SignalAndWait(Bounded.Limit);
                    return manager.Join();
                },
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);
            var dispose = Task.Factory.StartNew(
                () =>
                {
                    start.SignalAndWait(Bounded.Limit);
                    manager.Dispose();
                },
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);

            var completed = await join.WaitAsync(StressBound, testContext.CancellationToken);
            await dispose.WaitAsync(StressBound, testContext.CancellationToken);

            // Either outcome is allowed; only a hang or an exception is not. A completed Join means all 20 items went through both stages.
            Bounded.Until(() => spy.Current == 0, "no call is in progress");
            if (completed)
            {
                Assert.AreEqual(40, spy.Completed, $"Round {round}: Join returned true but not every item was processed.");
            }

            Assert.AreEqual(completed, manager.Join(), $"Round {round}: a later Join must return the same result.");
        }
    }

    /// <summary>
    /// Gets the managed memory once the work queued on the thread pool so far has run. A block schedules its processing
    /// on the pool, and a task still queued there holds its pipeline until it runs: one queued on this thread's own
    /// local queue waits for another pool thread to take it, and on 2 cores every other pool thread may be busy.
    /// </summary>
    private static long SettledMemory()
    {
        Bounded.Until(() => ThreadPool.PendingWorkItemCount == 0, "the thread pool ran the work queued so far");
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static void RunCycles(int cycles, CancellationToken cancellationToken, bool join = true)
    {
        var spy = new WorkerSpy();
        for (var cycle = 0; cycle < cycles; cycle++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var manager = JobManager.Create(
                Workers.Of<int>().Then(spy.Work, threads: 2).Then(spy.WorkAsync, threads: 2),
                queueSize: 16);
            for (var i = 0; i < 10; i++)
            {
                manager.Put(i);
            }

            if (join)
            {
                Assert.IsTrue(manager.Join(Bounded.Limit));
            }
        }

        // Disposing without Join stops the pipeline: calls in progress finish, then nothing runs.
        Bounded.Until(() => spy.Current == 0, "no call is in progress");
        if (join)
        {
            Assert.AreEqual(cycles * 20, spy.Completed);
        }
        else
        {
            Assert.IsLessThanOrEqualTo(cycles * 20, spy.Completed);
        }
    }

    private static int CountThreads()
    {
        using var process = Process.GetCurrentProcess();
        return process.Threads.Count;
    }

    private static Task[] StartResizers<TIn, TOut>(JobManager<TIn, TOut> manager, Delegate[] resizable, int[] resizes, CancellationToken stop)
        => Enumerable.Range(0, Resizers).Select(r => Task.Factory.StartNew(
            () =>
            {
                var random = new Random(r);
                var clock = Stopwatch.StartNew();
                var due = TimeSpan.Zero;
                while (!stop.IsCancellationRequested)
                {
                    manager.SetThreadNum(resizable[random.Next(resizable.Length)], random.Next(1, 9));
                    Interlocked.Increment(ref resizes[0]);

                    // Workload pacing, not synchronisation: about one resize per millisecond per thread
                    // (Task.Delay(1) sleeps for a whole timer tick, several milliseconds on some systems).
                    due += TimeSpan.FromMilliseconds(1);
                    while (clock.Elapsed < due && !stop.IsCancellationRequested)
                    {
                        Thread.Yield();
                    }
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default)).ToArray();
}
