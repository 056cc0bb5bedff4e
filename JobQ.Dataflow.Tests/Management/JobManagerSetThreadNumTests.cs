using System.Collections.Concurrent;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Management;

[TestClass]
public sealed class JobManagerSetThreadNumTests
{
    private static int s_staticCalls;

    [TestMethod]
    [DataRow(false, DisplayName = "sync worker")]
    [DataRow(true, DisplayName = "async worker")]
    public void SetThreadNum_Grow_ExactlyNCallsInProgress(bool async)
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        using var manager = Create(spy, async, threads: 1);
        try
        {
            for (var i = 0; i < 20; i++)
            {
                manager.Put(i);
            }

            Bounded.Until(() => spy.Current == 1, "one call is in progress");

            manager.SetThreadNum(Worker(spy, async), 4);

            Assert.AreEqual(4, manager.Stat().Stages[0].WorkerCount);
            Bounded.Until(() => manager.Stat().Stages[0].Doing == 4, "four calls are in progress");
            Bounded.Until(() => spy.Current == 4, "the worker itself sees 4 calls in progress");

            manager.SetThreadNum(Worker(spy, async), 7);
            Bounded.Until(() => manager.Stat().Stages[0].Doing == 7, "seven calls are in progress");
            Bounded.Until(() => spy.Current == 7, "the worker itself sees 7 calls in progress");
            Bounded.Until(() => spy.MaxConcurrency == 7, "the most calls at once to reach 7 (and no more: the stage has 7 workers)");
            Assert.AreEqual(7, spy.Entered);

            gate.Open();
            Assert.IsTrue(manager.JoinAsync().Wait(Bounded.Limit));
            CollectionAssert.AreEquivalent(Enumerable.Range(0, 20).ToArray(), spy.Seen.ToArray());
            Assert.AreEqual(7, spy.MaxConcurrency);
        }
        finally
        {
            gate.Open();
        }
    }

    [TestMethod]
    [DataRow(false, DisplayName = "sync worker")]
    [DataRow(true, DisplayName = "async worker")]
    public void SetThreadNum_Shrink_CallsInProgressFallToNAndNeverExceedIt(bool async)
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        using var manager = Create(spy, async, threads: 5);
        try
        {
            for (var i = 0; i < 200; i++)
            {
                manager.Put(i);
            }

            Bounded.Until(() => spy.Current == 5, "five calls are in progress");

            manager.SetThreadNum(Worker(spy, async), 2);
            Assert.AreEqual(2, manager.Stat().Stages[0].WorkerCount);

            // No call is interrupted: the five held calls are still in progress.
            Bounded.Until(() => spy.Current == 5, "the worker itself sees 5 calls in progress");

            // Three calls finish; their workers are surplus and stop instead of taking another item.
            gate.Release(3);
            Bounded.Until(() => spy.Completed == 3 && manager.Stat().Stages[0].Doing == 2, "calls in progress fell to two");
            Assert.AreEqual(5, spy.Entered, "A surplus worker took a new item after the shrink.");

            spy.ResetMaxConcurrency();
            gate.Open();
            Assert.IsTrue(manager.JoinAsync().Wait(Bounded.Limit));

            Assert.IsLessThanOrEqualTo(2, spy.MaxConcurrency, $"{spy.MaxConcurrency} calls ran at once after shrinking to 2.");
            CollectionAssert.AreEquivalent(Enumerable.Range(0, 200).ToArray(), spy.Seen.ToArray(), "An item was lost or duplicated.");
        }
        finally
        {
            gate.Open();
        }
    }

    [TestMethod]
    public void SetThreadNum_GrowSyncWorker_NewRealThreadsMeetAtBarrierOfNewSize()
    {
        using var barrier = new Barrier(4);
        var worker = new BarrierWorker(barrier);
        using var manager = JobManager.Create(Workers.Of<int>().Then(worker.Meet, threads: 1));

        manager.SetThreadNum(worker.Meet, 4);
        for (var i = 0; i < 4; i++)
        {
            manager.Put(i);
        }

        Assert.IsTrue(manager.JoinAsync().Wait(Bounded.Limit));
        CollectionAssert.AreEqual(new[] { true, true, true, true }, worker.Met.ToArray(), "The barrier of four did not complete: fewer than four calls ran at once.");
        Assert.HasCount(4, worker.Threads);
        Assert.AreEqual(0, worker.CallsOnThreadPool, "Sync workers must run on dedicated threads.");
        Bounded.Until(() => worker.Threads.All(LaneThreads.IsDone), "the worker threads were done (exited or idle) after Join");
    }

    [TestMethod]
    public void SetThreadNum_ShrinkIdleSyncStage_SurplusThreadsExit()
    {
        using var barrier = new Barrier(4);
        var worker = new BarrierWorker(barrier);
        using var manager = JobManager.Create(Workers.Of<int>().Then(worker.Meet, threads: 4));
        for (var i = 0; i < 4; i++)
        {
            manager.Put(i);
        }

        Bounded.Until(() => worker.Met.Count == 4, "four calls met at the barrier");
        Assert.IsTrue(worker.Met.All(met => met), "The barrier of four did not complete.");
        Assert.HasCount(4, worker.Threads);

        manager.SetThreadNum(worker.Meet, 1);

        Assert.AreEqual(1, manager.Stat().Stages[0].WorkerCount);
        Bounded.Until(() => worker.Threads.Count(t => !LaneThreads.IsDone(t)) <= 1, "at least three of the four worker threads were done");

        barrier.RemoveParticipants(3);
        manager.Put(4);
        Assert.IsTrue(manager.JoinAsync().Wait(Bounded.Limit));
        Assert.HasCount(5, worker.Met);
        Assert.IsTrue(worker.Met.All(met => met));
    }

    [TestMethod]
    public void SetThreadNum_GrowAsyncWorker_NewCallsRunConcurrently()
    {
        var gate = new Gate();
        using var started = new CountdownEvent(6);
        var spy = new WorkerSpy(gate);
        Func<int, Task<int>> work = async i =>
        {
            started.Signal();
            return await spy.WorkAsync(i).ConfigureAwait(false);
        };
        using var manager = JobManager.Create(Workers.Of<int>().Then(work, threads: 2));
        try
        {
            manager.SetThreadNum(work, 6);
            for (var i = 0; i < 6; i++)
            {
                manager.Put(i);
            }

            Assert.IsTrue(started.Wait(Bounded.Limit), "Six async calls did not run at once after growing to six.");
            Assert.AreEqual(6, manager.Stat().Stages[0].Doing);
        }
        finally
        {
            gate.Open();
        }

        Assert.IsTrue(manager.JoinAsync().Wait(Bounded.Limit));
    }

    [TestMethod]
    public void SetThreadNum_UnknownWorker_ThrowsNotFoundAndLeavesStateUnchanged()
    {
        var spy = new WorkerSpy();
        var other = new WorkerSpy();
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work, threads: 2));

        var byMethod = Assert.ThrowsExactly<JobWorkerNotFoundException>(() => manager.SetThreadNum(new Func<int, int>(other.Work), 3));
        var byLambda = Assert.ThrowsExactly<JobWorkerNotFoundException>(() => manager.SetThreadNum(new Func<int, int>(static i => i), 3));
        Assert.Contains("WorkerSpy.Work", byMethod.Message);
        Assert.Contains("a lambda", byLambda.Message);
        Assert.DoesNotContain("<", byLambda.Message, "no compiler-made name");
        Assert.ThrowsExactly<JobWorkerNotFoundException>(() => manager.SetThreadNum(new Func<int, Task<int>>(spy.WorkAsync), 3));

        Assert.AreEqual(2, manager.Stat().Stages[0].WorkerCount);
        for (var i = 0; i < 10; i++)
        {
            manager.Put(i);
        }

        Assert.IsTrue(manager.Join(Bounded.Limit));
        Assert.AreEqual(10, spy.Completed);
        Assert.AreEqual(0, other.Entered);
    }

    [TestMethod]
    public void SetThreadNum_DispatcherStage_ThrowsJobWorkerExceptionAndLeavesStateUnchanged()
    {
        var spy = new WorkerSpy();
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work, threads: 3, dispatcher: static i => i));

        var error = Assert.ThrowsExactly<JobWorkerException>(() => manager.SetThreadNum(spy.Work, 5));

        Assert.IsNotNull(error.Message);
        Assert.AreEqual(3, manager.Stat().Stages[0].WorkerCount);
        Assert.HasCount(3, manager.Stat().Stages[0].Dispatcher!);
        for (var i = 0; i < 30; i++)
        {
            manager.Put(i);
        }

        Assert.IsTrue(manager.Join(Bounded.Limit));
        Assert.AreEqual(30, spy.Completed);
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(-1)]
    [DataRow(int.MinValue)]
    public void SetThreadNum_NotPositive_ThrowsArgumentOutOfRangeAndLeavesStateUnchanged(int threads)
    {
        var spy = new WorkerSpy();
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work, threads: 2));

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => manager.SetThreadNum(spy.Work, threads));

        Assert.AreEqual("threads", error.ParamName);
        Assert.AreEqual(2, manager.Stat().Stages[0].WorkerCount);
        manager.Put(1);
        Assert.IsTrue(manager.Join(Bounded.Limit));
        Assert.AreEqual(1, spy.Completed);
    }

    [TestMethod]
    public void SetThreadNum_AboveMaxThreads_ThrowsArgumentOutOfRangeNamingStageAndBoundAndLeavesStateUnchanged()
    {
        var spy = new WorkerSpy();
        using var manager = JobManager.Create(Workers.Of<int>().Then(x => x).Then(spy.Work, threads: 2, name: "resized"));

        var atMaxValue = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => manager.SetThreadNum(spy.Work, int.MaxValue));
        var justAbove = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => manager.SetThreadNum(spy.Work, JobOptions.MaxThreads + 1));

        Assert.AreEqual("threads", atMaxValue.ParamName);
        Assert.AreEqual(int.MaxValue, atMaxValue.ActualValue);
        Assert.Contains("stage 1 ('resized')", atMaxValue.Message);
        Assert.Contains(int.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture), atMaxValue.Message);
        Assert.Contains(JobOptions.MaxThreads.ToString(System.Globalization.CultureInfo.InvariantCulture), atMaxValue.Message);
        Assert.AreEqual(JobOptions.MaxThreads + 1, justAbove.ActualValue);
        Assert.AreEqual(2, manager.Stat().Stages[1].WorkerCount);
        manager.Put(1);
        Assert.IsTrue(manager.Join(Bounded.Limit));
        Assert.AreEqual(1, spy.Completed);
    }

    [TestMethod]
    public void SetThreadNum_AboveMaxThreadsOfAnUnknownWorker_ThrowsArgumentOutOfRangeNamingTheWorker()
    {
        var spy = new WorkerSpy();
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work));

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => manager.SetThreadNum(new Func<int, int>(Unknown), int.MaxValue));

        Assert.Contains($"{nameof(JobManagerSetThreadNumTests)}.{nameof(Unknown)}", error.Message);
    }

    [TestMethod]
    public void SetThreadNum_NullWorker_ThrowsArgumentNull()
    {
        var spy = new WorkerSpy();
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work));

        Assert.ThrowsExactly<ArgumentNullException>(() => manager.SetThreadNum(null!, 2));
        Assert.AreEqual(1, manager.Stat().Stages[0].WorkerCount);
    }

    [TestMethod]
    public void SetThreadNum_AfterJoinBegan_DoesNothing()
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work));
        try
        {
            for (var i = 0; i < 5; i++)
            {
                manager.Put(i);
            }

            Bounded.Until(() => spy.Current == 1, "one call is in progress");
            var join = manager.JoinAsync();

            manager.SetThreadNum(spy.Work, 4);
            manager.SetThreadNum(new Func<int, int>(new WorkerSpy().Work), 4); // unknown: quiet too, as in jobq

            Assert.AreEqual(1, manager.Stat().Stages[0].WorkerCount);
            Bounded.Until(() => spy.Current == 1, "the worker itself sees 1 calls in progress");
            gate.Open();
            Assert.IsTrue(join.Wait(Bounded.Limit));
            Assert.AreEqual(1, spy.MaxConcurrency);
        }
        finally
        {
            gate.Open();
        }

        manager.SetThreadNum(spy.Work, 3);
        Assert.AreEqual(1, manager.Stat().Stages[0].WorkerCount);
    }

    [TestMethod]
    public void SetThreadNum_FreshDelegateFromSameInstanceMethod_Matches()
    {
        var spy = new WorkerSpy();
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work).Then(spy.WorkAsync));

        manager.SetThreadNum(new Func<int, int>(spy.Work), 3);
        manager.SetThreadNum(spy.WorkAsync, 2);

        Assert.AreEqual(3, manager.Stat().Stages[0].WorkerCount);
        Assert.AreEqual(2, manager.Stat().Stages[1].WorkerCount);
        manager.Put(1);
        Assert.IsTrue(manager.Join(Bounded.Limit));
    }

    [TestMethod]
    public void SetThreadNum_FreshDelegateFromSameStaticMethodGroup_Matches()
    {
        using var manager = JobManager.Create(Workers.Of<int>().Then(Increment, threads: 1));

        manager.SetThreadNum(new Func<int, int>(Increment), 3);
        manager.SetThreadNum(Increment, 2);

        Assert.AreEqual(2, manager.Stat().Stages[0].WorkerCount);
        var before = Volatile.Read(ref s_staticCalls);
        manager.Put(1);
        Assert.IsTrue(manager.Join(Bounded.Limit));
        Assert.AreEqual(before + 1, Volatile.Read(ref s_staticCalls));
    }

    [TestMethod]
    public void SetThreadNum_SameMethodOtherInstance_ThrowsNotFound()
    {
        var first = new WorkerSpy();
        var second = new WorkerSpy();
        using var manager = JobManager.Create(Workers.Of<int>().Then(first.Work).Then(first.WorkAsync));

        Assert.ThrowsExactly<JobWorkerNotFoundException>(() => manager.SetThreadNum(second.Work, 3));
        Assert.ThrowsExactly<JobWorkerNotFoundException>(() => manager.SetThreadNum(second.WorkAsync, 3));
        Assert.AreEqual(1, manager.Stat().Stages[0].WorkerCount);
        Assert.AreEqual(1, manager.Stat().Stages[1].WorkerCount);
    }

    [TestMethod]
    public void SetThreadNum_SameMethodOfAnotherInstanceEqualByValue_ResizesTheStageOfThatInstance()
    {
        // Two records with equal values are two instances: each stage is matched by its own, never by an equal one.
        var first = new Scaler(2);
        var second = new Scaler(2);
        using var manager = JobManager.Create(Workers.Of<int>().Then(first.Scale).Then(second.Scale));

        manager.SetThreadNum(second.Scale, 3);

        Assert.AreEqual(1, manager.Stat().Stages[0].WorkerCount);
        Assert.AreEqual(3, manager.Stat().Stages[1].WorkerCount);
    }

    private sealed record Scaler(int Factor)
    {
        public int Scale(int x) => x * Factor;
    }

    [TestMethod]
    [DataRow(false, DisplayName = "sync worker")]
    [DataRow(true, DisplayName = "async worker")]
    public void SetThreadNum_KeepOrderThroughResizes_OrderStaysExact(bool async)
    {
        const int Count = 3_000;
        int[] sizes = [3, 1, 8, 2, 5, 1, 4, 7, 2, 6];
        var collected = new List<int>(Count);
        Func<int, int> jittery = static i =>
        {
            Thread.SpinWait((i * 7919 % 13) * 40);
            return i;
        };
        Func<int, Task<int>> jitteryAsync = static async i =>
        {
            if (i % 5 == 0)
            {
                await Task.Yield();
            }

            Thread.SpinWait((i * 7919 % 13) * 40);
            return i;
        };
        Delegate resized = async ? jitteryAsync : jittery;
        var workers = async
            ? Workers.Of<int>().Then(jitteryAsync, threads: 2).Then(collected.Add)
            : Workers.Of<int>().Then(jittery, threads: 2).Then(collected.Add);
        using var manager = JobManager.Create(workers, queueSize: 64, keepOrder: true);

        for (var i = 0; i < Count; i++)
        {
            manager.Put(i);
            if (i % 100 == 0)
            {
                manager.SetThreadNum(resized, sizes[i / 100 % sizes.Length]);
            }
        }

        Assert.IsTrue(manager.JoinAsync().Wait(Bounded.Limit));
        CollectionAssert.AreEqual(Enumerable.Range(0, Count).ToArray(), collected.ToArray());
    }

    [TestMethod]
    public void SetThreadNum_ShrinkThenGrowBeforeSurplusCallsFinish_SettlesAtTheLastCount()
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work, threads: 4));
        try
        {
            for (var i = 0; i < 100; i++)
            {
                manager.Put(i);
            }

            Bounded.Until(() => spy.Current == 4, "four calls are in progress");

            manager.SetThreadNum(spy.Work, 1);
            manager.SetThreadNum(spy.Work, 3);
            Assert.AreEqual(3, manager.Stat().Stages[0].WorkerCount);
            Bounded.Until(() => spy.Current == 4, "the worker itself sees 4 calls in progress");

            // One call finishes: its worker is the one surplus worker and stops.
            gate.Release(1);
            Bounded.Until(() => spy.Completed == 1 && manager.Stat().Stages[0].Doing == 3, "calls in progress fell to three");
            Assert.AreEqual(4, spy.Entered, "The surplus worker took a new item.");

            // The next call to finish belongs to a kept worker, which takes the next item.
            gate.Release(1);
            Bounded.Until(() => spy.Completed == 2 && spy.Entered == 5, "a kept worker took the next item");
            Bounded.Until(() => manager.Stat().Stages[0].Doing == 3, "three calls are in progress");

            // Doing counts a call from just before the worker is called, the spy from inside it: wait for both.
            manager.SetThreadNum(spy.Work, 6);
            Bounded.Until(() => manager.Stat().Stages[0].Doing == 6 && spy.Current == 6, "six calls are in progress");
            Assert.AreEqual(8, spy.Entered);

            spy.ResetMaxConcurrency();
            gate.Open();
            Assert.IsTrue(manager.JoinAsync().Wait(Bounded.Limit));
            Assert.IsLessThanOrEqualTo(6, spy.MaxConcurrency);
            CollectionAssert.AreEquivalent(Enumerable.Range(0, 100).ToArray(), spy.Seen.ToArray());
        }
        finally
        {
            gate.Open();
        }
    }

    [TestMethod]
    public void SetThreadNum_SameCount_ChangesNothing()
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work, threads: 2));
        try
        {
            for (var i = 0; i < 10; i++)
            {
                manager.Put(i);
            }

            Bounded.Until(() => spy.Current == 2, "two calls are in progress");
            manager.SetThreadNum(spy.Work, 2);

            Assert.AreEqual(2, manager.Stat().Stages[0].WorkerCount);
            Bounded.Until(() => spy.Current == 2, "the worker itself sees 2 calls in progress");
            gate.Open();
            Assert.IsTrue(manager.JoinAsync().Wait(Bounded.Limit));
            Assert.AreEqual(2, spy.MaxConcurrency);
        }
        finally
        {
            gate.Open();
        }
    }

    [TestMethod]
    [DataRow(false, DisplayName = "sync worker")]
    [DataRow(true, DisplayName = "async worker")]
    public void SetThreadNum_KeepOrderShrinkWhileCallsHeld_OrderStaysExact(bool async)
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        var collected = new List<int>();
        using var manager = async
            ? JobManager.Create(Workers.Of<int>().Then(spy.WorkAsync, threads: 4).Then(collected.Add), keepOrder: true)
            : JobManager.Create(Workers.Of<int>().Then(spy.Work, threads: 4).Then(collected.Add), keepOrder: true);
        try
        {
            for (var i = 0; i < 50; i++)
            {
                manager.Put(i);
            }

            Bounded.Until(() => spy.Current == 4, "four calls are in progress");

            // Calls finish one at a time in whatever order the gate picks, while the stage shrinks and grows.
            manager.SetThreadNum(Worker(spy, async), 1);
            gate.Release(2);
            Bounded.Until(() => spy.Completed == 2, "two calls finished");
            manager.SetThreadNum(Worker(spy, async), 5);
            gate.Release(3);
            Bounded.Until(() => spy.Completed == 5, "five calls finished");
            manager.SetThreadNum(Worker(spy, async), 2);
            gate.Open();

            Assert.IsTrue(manager.JoinAsync().Wait(Bounded.Limit));
            CollectionAssert.AreEqual(Enumerable.Range(0, 50).ToArray(), collected.ToArray());
        }
        finally
        {
            gate.Open();
        }
    }

    [TestMethod]
    public void SetThreadNum_ManyWorkerKeepOrderThroughResizes_EachCallsElementsStayTogetherInOrder()
    {
        const int Count = 2_000;
        int[] sizes = [4, 1, 6, 2, 8, 3];
        var collected = new List<int>(Count * 3);
        Func<int, IEnumerable<int>> expand = static i =>
        {
            Thread.SpinWait(i % 11 * 60);
            return [i * 3, (i * 3) + 1, (i * 3) + 2];
        };
        using var manager = JobManager.Create(Workers.Of<int>().ThenMany(expand, threads: 3).Then(collected.Add), queueSize: 32, keepOrder: true);

        for (var i = 0; i < Count; i++)
        {
            manager.Put(i);
            if (i % 150 == 0)
            {
                manager.SetThreadNum(expand, sizes[i / 150 % sizes.Length]);
            }
        }

        Assert.IsTrue(manager.JoinAsync().Wait(Bounded.Limit));
        CollectionAssert.AreEqual(Enumerable.Range(0, Count * 3).ToArray(), collected.ToArray());
    }

    [TestMethod]
    [DataRow(false, DisplayName = "sync worker")]
    [DataRow(true, DisplayName = "async worker")]
    public void SetThreadNum_ManyQuickResizesOfAnIdleStage_ExactlyTheLastCountOfCallsRunsAtOnce(bool async)
    {
        // The race this guards against is narrow, so the scenario runs several rounds.
        for (var round = 0; round < 12; round++)
        {
            var gate = new Gate();
            var spy = new WorkerSpy(gate);
            using var manager = Create(spy, async, threads: 2);
            try
            {
                var random = new Random(round);
                for (var i = 0; i < 300; i++)
                {
                    manager.SetThreadNum(Worker(spy, async), random.Next(1, 9));
                }

                manager.SetThreadNum(Worker(spy, async), 8);
                manager.SetThreadNum(Worker(spy, async), 1);
                manager.SetThreadNum(Worker(spy, async), 6);
                Assert.AreEqual(6, manager.Stat().Stages[0].WorkerCount);

                for (var i = 0; i < 40; i++)
                {
                    manager.Put(i);
                }

                var reached = Bounded.TryUntil(() => spy.Current >= 6, Bounded.Limit);
                Assert.IsFalse(Bounded.TryUntil(() => spy.Current > 6, Bounded.Watch), $"Round {round}: more calls ran at once than the stage has workers: {Describe(manager, spy)}.");
                Assert.IsTrue(reached, $"Round {round}: fewer calls in progress than the stage has workers, with items waiting: {Describe(manager, spy)}.");
                Assert.AreEqual(6, manager.Stat().Stages[0].Doing);

                gate.Open();
                Assert.IsTrue(manager.JoinAsync().Wait(Bounded.Limit));
                Assert.AreEqual(6, spy.MaxConcurrency, $"Round {round}: more calls ran at once than the stage has workers.");
                CollectionAssert.AreEquivalent(Enumerable.Range(0, 40).ToArray(), spy.Seen.ToArray());
            }
            finally
            {
                gate.Open();
            }
        }
    }

    [TestMethod]
    public void SetThreadNum_KeepOrderWithFailingAndDroppedItemsThroughResizes_NoGapNoReordering()
    {
        const int Count = 2_000;
        int[] sizes = [5, 1, 3, 8, 2];
        var collected = new List<int>(Count);
        Func<int, WorkerResult<int>> work = static i =>
        {
            Thread.SpinWait(i % 7 * 80);
            if (i % 10 == 3)
            {
                throw new InvalidOperationException("fails " + i);
            }

            return i % 10 == 6 ? JobQueue.EmptyRst : i;
        };
        using var manager = JobManager.Create(Workers.Of<int>().Then(work, threads: 3).Then(collected.Add), queueSize: 32, keepOrder: true);

        for (var i = 0; i < Count; i++)
        {
            manager.Put(i);
            if (i % 120 == 0)
            {
                manager.SetThreadNum(work, sizes[i / 120 % sizes.Length]);
            }
        }

        Assert.IsTrue(manager.JoinAsync().Wait(Bounded.Limit));
        CollectionAssert.AreEqual(Enumerable.Range(0, Count).Where(i => i % 10 is not 3 and not 6).ToArray(), collected.ToArray());
        var stage = manager.Stat().Stages[0];
        Assert.AreEqual(Count / 10, stage.Failed);
        Assert.AreEqual(Count / 10, stage.Dropped);
        Assert.AreEqual(Count, stage.Out);
    }

    [TestMethod]
    public void SetThreadNum_CalledFromInsideTheWorker_ResizesWithoutDeadlock()
    {
        JobManager<int, int>? manager = null;
        var spy = new WorkerSpy();
        var resized = new ManualResetEventSlim();
        Func<int, int> work = null!;
        work = i =>
        {
            if (i == 5)
            {
                manager!.SetThreadNum(work, 3);
                resized.Set();
            }

            return spy.Work(i);
        };
        using (manager = JobManager.Create(Workers.Of<int>().Then(work)))
        {
            for (var i = 0; i < 50; i++)
            {
                manager.Put(i);
            }

            Assert.IsTrue(resized.Wait(Bounded.Limit), "SetThreadNum called from a worker did not return.");
            Assert.AreEqual(3, manager.Stat().Stages[0].WorkerCount);
            Assert.IsTrue(manager.JoinAsync().Wait(Bounded.Limit));
        }

        CollectionAssert.AreEquivalent(Enumerable.Range(0, 50).ToArray(), spy.Seen.ToArray());
        resized.Dispose();
    }

    private static string Describe(JobManager<int, int> manager, WorkerSpy spy)
    {
        var stage = manager.Stat().Stages[0];
        return $"WorkerCount {stage.WorkerCount}, Doing {stage.Doing}, queued {stage.Input.Size}, calls in progress {spy.Current}, most at once {spy.MaxConcurrency}, threads used {spy.Threads.Count}";
    }

    private static int Increment(int i)
    {
        Interlocked.Increment(ref s_staticCalls);
        return i + 1;
    }

    private static JobManager<int, int> Create(WorkerSpy spy, bool async, int threads)
        => async
            ? JobManager.Create(Workers.Of<int>().Then(spy.WorkAsync, threads), queueSize: 1024)
            : JobManager.Create(Workers.Of<int>().Then(spy.Work, threads), queueSize: 1024);

    private static Delegate Worker(WorkerSpy spy, bool async) => async ? new Func<int, Task<int>>(spy.WorkAsync) : new Func<int, int>(spy.Work);

    private static int Unknown(int x) => x;
}
