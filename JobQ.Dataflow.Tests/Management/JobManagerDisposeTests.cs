using JobQ.Dataflow.Tests.Support;
using Microsoft.Extensions.Logging;
using Moq;

namespace JobQ.Dataflow.Tests.Management;

[TestClass]
public sealed class JobManagerDisposeTests
{
    [TestMethod]
    public void Dispose_WithoutJoinWhileWorkersHeld_ReturnsPromptlyAndStartsNoNewCall()
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        var next = new WorkerSpy();
        var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work, threads: 2).Then(next.Work));
        try
        {
            for (var i = 0; i < 10; i++)
            {
                manager.Put(i);
            }

            Bounded.Until(() => spy.Current == 2, "both workers hold an item");

            Assert.IsTrue(Task.Run(manager.Dispose).Wait(Bounded.Limit), "Dispose did not return while workers were held.");
            Assert.AreEqual(2, spy.Current, "Dispose returned only after the held calls finished.");
        }
        finally
        {
            gate.Open();
        }

        Bounded.Until(() => spy.Completed == 2, "the held calls finished");
        Bounded.Until(() => spy.Threads.All(LaneThreads.IsDone) && next.Threads.All(LaneThreads.IsDone), "every worker thread was done (exited or idle)");
        Assert.AreEqual(2, spy.Entered, "A call started after Dispose.");
        Assert.AreEqual(0, next.Entered, "An output was passed on after Dispose.");
        Assert.IsFalse(manager.Join(), "Join after Dispose reports that not everything finished.");
    }

    [TestMethod]
    public void Dispose_WithItemsNotProcessed_LogsAWarningWithTheirCount()
    {
        // Forgetting Join drops what was put: the default logger says so, rather than nothing at all.
        var logger = LoggerMock.Create();
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work), new JobOptions { Logger = logger.Object });
        try
        {
            for (var i = 0; i < 5; i++)
            {
                manager.Put(i);
            }

            Bounded.Until(() => spy.Current == 1, "the worker holds an item");
            Assert.IsTrue(Task.Run(manager.Dispose).Wait(Bounded.Limit));
        }
        finally
        {
            gate.Open();
        }

        logger.VerifyLogged(LogLevel.Warning, "5 items", Times.Once());
    }

    [TestMethod]
    public void Dispose_AfterJoin_LogsNoWarning()
    {
        var logger = LoggerMock.Create();
        var manager = JobManager.Create(Workers.Of<int>().Then(x => x), new JobOptions { Logger = logger.Object });
        manager.Put(1);
        Assert.IsTrue(manager.Join(Bounded.Limit));

        manager.Dispose();

        logger.VerifyLogged(LogLevel.Warning, "items", Times.Never());
    }

    [TestMethod]
    public async Task DisposeAsync_WithoutJoinWhileAsyncWorkersHeld_CompletesPromptlyAndStartsNoNewCall()
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        var next = new WorkerSpy();
        var manager = JobManager.Create(Workers.Of<int>().Then(spy.WorkAsync, threads: 3).Then(next.WorkAsync));
        try
        {
            for (var i = 0; i < 10; i++)
            {
                await manager.PutAsync(i);
            }

            Bounded.Until(() => spy.Current == 3, "three calls hold an item");

            await manager.DisposeAsync().AsTask().WaitAsync(Bounded.Limit);
            Assert.AreEqual(3, spy.Current, "DisposeAsync completed only after the held calls finished.");
        }
        finally
        {
            gate.Open();
        }

        Bounded.Until(() => spy.Completed == 3 && manager.Stat().Doing == 0, "the held calls finished");
        Assert.AreEqual(3, spy.Entered, "A call started after DisposeAsync.");
        Assert.AreEqual(0, next.Entered, "An output was passed on after DisposeAsync.");
        Assert.IsFalse(await manager.JoinAsync().WaitAsync(Bounded.Limit));
    }

    [TestMethod]
    public void Dispose_WhilePutBlockedOnFullQueue_PutThrowsObjectDisposed()
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work), queueSize: 1);
        try
        {
            manager.Put(0);
            Bounded.Until(() => spy.Current == 1, "the worker holds item 0");
            manager.Put(1);
            var blocked = Task.Run(() => manager.Put(2));
            Assert.IsFalse(blocked.Wait(Bounded.Watch), "Put returned while the first queue was full.");

            manager.Dispose();

            var error = Assert.ThrowsExactly<AggregateException>(() => blocked.Wait(Bounded.Limit));
            Assert.IsInstanceOfType<ObjectDisposedException>(error.InnerException);
        }
        finally
        {
            gate.Open();
        }

        Bounded.Until(() => spy.Completed == 1, "the held call finished");
        Assert.AreEqual(1, spy.Entered);
    }

    [TestMethod]
    public async Task Dispose_WhileJoinWaits_JoinReturnsFalse()
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work));
        try
        {
            manager.Put(0);
            manager.Put(1);
            Bounded.Until(() => spy.Current == 1, "the worker holds item 0");
            var join = manager.JoinAsync();

            await manager.DisposeAsync().AsTask().WaitAsync(Bounded.Limit);

            Assert.IsFalse(await join.WaitAsync(Bounded.Limit));
        }
        finally
        {
            gate.Open();
        }

        Bounded.Until(() => spy.Completed == 1, "the held call finished");
        Assert.AreEqual(1, spy.Entered);
    }

    [TestMethod]
    public async Task Join_AfterDisposeWithItemsUnprocessed_ReturnsFalse()
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work));
        try
        {
            manager.Put(0);
            manager.Put(1);
            Bounded.Until(() => spy.Current == 1, "the worker holds item 0");
            await manager.DisposeAsync().AsTask().WaitAsync(Bounded.Limit);

            Assert.IsFalse(await manager.JoinAsync().WaitAsync(Bounded.Limit));
            Assert.IsFalse(await Task.Run(() => manager.Join()).WaitAsync(Bounded.Limit));
        }
        finally
        {
            gate.Open();
        }
    }

    [TestMethod]
    public async Task Dispose_Twice_DoesNotThrow()
    {
        var spy = new WorkerSpy();
        var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work));
        manager.Put(1);
        Assert.IsTrue(manager.Join(Bounded.Limit));

        manager.Dispose();
        manager.Dispose();
        await manager.DisposeAsync();

        Assert.AreEqual(1, spy.Completed);
        Assert.IsTrue(manager.Join(), "Join after a completed run and dispose keeps its result.");
    }

    [TestMethod]
    public void SetThreadNum_AfterDispose_DoesNothing()
    {
        var spy = new WorkerSpy();
        var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work, threads: 2));
        manager.Dispose();

        manager.SetThreadNum(spy.Work, 5);

        Assert.AreEqual(2, manager.Stat().Stages[0].WorkerCount);
    }

    [TestMethod]
    [DataRow(false, DisplayName = "Dispose from a sync worker")]
    [DataRow(true, DisplayName = "DisposeAsync from an async worker")]
    public void Dispose_FromInsideAWorker_ReturnsAndStopsThePipeline(bool async)
    {
        JobManager<int, int>? manager = null;
        var spy = new WorkerSpy();
        var disposed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Func<int, int> work = i =>
        {
            if (i == 3)
            {
                manager!.Dispose();
                disposed.TrySetResult();
            }

            return spy.Work(i);
        };
        Func<int, Task<int>> workAsync = async i =>
        {
            if (i == 3)
            {
                await manager!.DisposeAsync().ConfigureAwait(false);
                disposed.TrySetResult();
            }

            return await spy.WorkAsync(i).ConfigureAwait(false);
        };
        manager = async
            ? JobManager.Create(Workers.Of<int>().Then(workAsync), queueSize: 4)
            : JobManager.Create(Workers.Of<int>().Then(work), queueSize: 4);

        var putter = Task.Run(() =>
        {
            try
            {
                for (var i = 0; i < 100; i++)
                {
                    manager.Put(i);
                }
            }
            catch (ObjectDisposedException)
            {
                // Expected once the worker disposed the manager.
            }
        });

        Assert.IsTrue(disposed.Task.Wait(Bounded.Limit), "Dispose called from inside a worker did not return.");
        Assert.IsTrue(putter.Wait(Bounded.Limit), "A Put stayed blocked after Dispose.");
        Bounded.Until(() => manager.Stat().Doing == 0, "the disposing call returned");
        Assert.AreEqual(4, spy.Entered, "Items 0..3 were processed (3 finishes the call that disposed); no call started after Dispose.");
        Assert.IsFalse(manager.Join());
    }
}
