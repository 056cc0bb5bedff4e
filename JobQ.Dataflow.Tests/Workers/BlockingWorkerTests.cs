using System.Diagnostics;
using JobQ.Dataflow.Tests.Support;

// Not "...Tests.Workers": a namespace of that name would hide the JobQ.Dataflow.Workers class from every test.
namespace JobQ.Dataflow.Tests.StageWorkers;

/// <summary>Blocking sync workers get a dedicated thread each: n calls run at once from the first item.</summary>
[TestClass]
public sealed class BlockingWorkerTests
{
    [TestMethod]
    public async Task Then_TenThreadsWithBarrierInsideWorker_AllCallsMeetQuickly()
    {
        const int threads = 10;
        using var barrier = new Barrier(threads);
        var failures = 0;
        var workers = Workers.Of<int>().Then(x =>
        {
            // Ten calls must be inside at the same time for the barrier to open.
            if (!barrier.SignalAndWait(TimeSpan.FromSeconds(5)))
            {
                Interlocked.Increment(ref failures);
            }

            return x;
        }, threads: threads);

        var stopwatch = Stopwatch.StartNew();
        var result = await Bounded.RunBlocking(() => JobQueue.Run(Enumerable.Range(0, threads * 3), workers));
        stopwatch.Stop();

        Assert.AreEqual(0, failures, "every barrier phase must complete");
        Assert.AreEqual(threads * 3, result.Stats.Stages[0].Out);
        Assert.IsLessThan(3_000, stopwatch.ElapsedMilliseconds, $"three barrier phases took {stopwatch.ElapsedMilliseconds} ms");
    }

    [TestMethod]
    public async Task Then_SyncWorkersWithTokenBlockingTogether_GetThreadsAndSeeTheStopCancelTheirToken()
    {
        const int threads = 4;
        using var barrier = new Barrier(threads + 1);
        var cancelledInCall = 0;
        using var cancel = new CancellationTokenSource();
        var workers = Workers.Of<int>().Then(
            (x, ct) =>
            {
                // All four calls are inside at once (each on a thread of its own), then wait for the stop.
                barrier.SignalAndWait(Bounded.Limit);
                if (ct.WaitHandle.WaitOne(Bounded.Limit))
                {
                    Interlocked.Increment(ref cancelledInCall);
                }

                return x;
            },
            threads: threads);

        var run = JobQueue.RunAsync(Enumerable.Range(0, threads), workers, cancellationToken: cancel.Token);
        Assert.IsTrue(barrier.SignalAndWait(Bounded.Limit), "four blocking calls at once");
        cancel.Cancel();

        await Assert.ThrowsAsync<OperationCanceledException>(() => run.Within());
        Bounded.Until(() => Volatile.Read(ref cancelledInCall) == threads, "every call to see its token cancelled");
    }

    [TestMethod]
    public async Task Then_TwoBlockingStagesWithBarriers_BothStagesRunConcurrently()
    {
        using var first = new Barrier(4);
        using var second = new Barrier(3);
        var failures = 0;
        var workers = Workers.Of<int>()
            .Then(x => first.SignalAndWait(TimeSpan.FromSeconds(5)) ? x : Fail(x), threads: 4)
            .Then(x => second.SignalAndWait(TimeSpan.FromSeconds(5)) ? x : Fail(x), threads: 3);

        var result = await Bounded.RunBlocking(() => JobQueue.Run(Enumerable.Range(0, 12), workers));

        Assert.AreEqual(0, failures);
        Assert.AreEqual(12, result.Stats.Stages[1].Out);

        int Fail(int x)
        {
            Interlocked.Increment(ref failures);
            return x;
        }
    }

    [TestMethod]
    public async Task Run_SyncUserCodeOfEveryKind_SeesTheDefaultTaskScheduler()
    {
        // As in a Dataflow block with default options: the stage's dedicated-thread scheduler is the library's, and
        // tasks the user's code starts (StartNew, ContinueWith, Parallel, awaits) must not take the stage's threads.
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<string, TaskScheduler>();
        var options = new JobOptions
        {
            ErrorPolicy = ErrorPolicy.Handle(_ => seen["error handler"] = TaskScheduler.Current),
        };
        var workers = Workers.Of<int>()
            .Then(x => Record("worker", x), threads: 2)
            .ThenMany(x => Generate(x))
            .Then(x => Record("partition worker", x), threads: 2, dispatcher: x => Record("dispatcher", x))
            .Then(x => x == 3 ? throw new InvalidOperationException("fails") : x);

        var result = await Bounded.RunBlocking(() => JobQueue.Run(Input(), workers, options));

        Assert.AreEqual(1, result.Failed);
        foreach (var where in new[] { "input", "worker", "generator", "dispatcher", "partition worker", "error handler" })
        {
            Assert.IsTrue(seen.TryGetValue(where, out var scheduler), $"{where} ran");
            Assert.AreSame(TaskScheduler.Default, scheduler, $"TaskScheduler.Current in the {where}");
        }

        IEnumerable<int> Input()
        {
            for (var i = 0; i < 8; i++)
            {
                Record("input", i);
                yield return i;
            }
        }

        IEnumerable<int> Generate(int x)
        {
            Record("generator", x);
            yield return x;
        }

        int Record(string where, int x)
        {
            seen[where] = TaskScheduler.Current;
            return x;
        }
    }

    [TestMethod]
    public async Task Then_SyncWorkerWaitsOnAsyncCodeThatYields_TheContinuationRunsOnThePool()
    {
        // Sync-over-async: the continuation of an await without ConfigureAwait(false) goes where TaskScheduler.Current
        // says; it must not take one of the stage's dedicated threads.
        var offPool = 0;
        var workers = Workers.Of<int>().Then(
            x =>
            {
                if (!ResumesOnThePoolAsync().GetAwaiter().GetResult())
                {
                    Interlocked.Increment(ref offPool);
                }

                return x;
            },
            threads: 4);

        var result = await Bounded.RunBlocking(() => JobQueue.Run(Enumerable.Range(0, 20), workers));

        Assert.AreEqual(20, result.Stats.Stages[0].Out);
        Assert.AreEqual(0, offPool, "continuations that ran off the thread pool");

        static async Task<bool> ResumesOnThePoolAsync()
        {
            await Task.Yield();
            return Thread.CurrentThread.IsThreadPoolThread;
        }
    }

    [TestMethod]
    public async Task JobManager_BlockingStageOfEightThreads_EveryCallRunsOnADedicatedThread()
    {
        // A resizable stage's block may start more tasks than the stage has workers (MaxDegreeOfParallelism is only a
        // cap there): a task that ends a run and the one Dataflow starts for the next overlap. Neither may be pushed
        // to the thread pool, where blocking calls wait for it to grow.
        var onPool = 0;
        var workers = Workers.Of<int>().Then(
            x =>
            {
                if (Thread.CurrentThread.IsThreadPoolThread)
                {
                    Interlocked.Increment(ref onPool);
                }

                Thread.Sleep(1); // workload: a blocking call, too slow for the stage to count as cheap
                return x;
            },
            threads: 8);

        var joined = await Task.Run(() =>
        {
            using var manager = JobManager.Create(workers);
            for (var i = 0; i < 800; i++)
            {
                manager.Put(i);
            }

            return manager.Join(Bounded.Limit);
        }).Within();

        Assert.IsTrue(joined);
        Assert.AreEqual(0, onPool, "blocking calls that ran on the thread pool");
    }

    [TestMethod]
    public async Task Then_SyncWorkerStartsATaskAttachedToParent_TheRunDoesNotWaitForIt()
    {
        // As in a Dataflow block, a worker's run is no parent: a task the worker attaches to it does not hold the run.
        using var child = new ManualResetEventSlim();
        using var secondCall = new ManualResetEventSlim();
        Task? attached = null;
        var workers = Workers.Of<int>().Then(x =>
        {
            if (x == 0)
            {
                attached = Task.Factory.StartNew(() => child.Wait(Bounded.Limit), TaskCreationOptions.AttachedToParent);
            }
            else
            {
                secondCall.Set();
            }

            return x;
        });

        var run = Task.Run(() => JobQueue.Run([0, 1], workers));
        var reached = secondCall.Wait(Bounded.Limit);
        child.Set();
        await run.Within();
        await attached!.Within();

        Assert.IsTrue(reached, "the second call started while the first call's attached task was still running");
    }
}
