using System.Globalization;
using JobQ.Dataflow.Tests.Support;
using Microsoft.Extensions.Logging;
using Moq;

namespace JobQ.Dataflow.Tests.Management;

[TestClass]
public sealed class JobManagerBadUseTests
{
    [TestMethod]
    public void Put_AfterJoinBegan_ThrowsInvalidOperationAndQueuesNothing()
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work));
        try
        {
            manager.Put(0);
            Bounded.Until(() => spy.Current == 1, "the worker holds item 0");
            var join = manager.JoinAsync();

            Assert.ThrowsExactly<InvalidOperationException>(() => manager.Put(1));

            gate.Open();
            Assert.IsTrue(join.Wait(Bounded.Limit));
            var afterJoin = Assert.ThrowsExactly<InvalidOperationException>(() => manager.Put(2));
            StringAssert.Contains(afterJoin.Message, "after Join began", "a join that succeeded is not a stop");
            CollectionAssert.AreEqual(new[] { 0 }, spy.Seen.ToArray());
        }
        finally
        {
            gate.Open();
        }
    }

    [TestMethod]
    public async Task PutAsync_AfterJoinBegan_ThrowsInvalidOperationAndQueuesNothing()
    {
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        await using var manager = JobManager.Create(Workers.Of<int>().Then(spy.WorkAsync));
        try
        {
            await manager.PutAsync(0);
            var join = manager.JoinAsync();

            await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => manager.PutAsync(1).AsTask());

            gate.Open();
            Assert.IsTrue(await join.WaitAsync(Bounded.Limit));
            var afterJoin = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => manager.PutAsync(2).AsTask());
            StringAssert.Contains(afterJoin.Message, "after Join began", "a join that succeeded is not a stop");
            CollectionAssert.AreEqual(new[] { 0 }, spy.Seen.ToArray());
        }
        finally
        {
            gate.Open();
        }
    }

    [TestMethod]
    public async Task Put_AfterDispose_ThrowsObjectDisposed()
    {
        var spy = new WorkerSpy();
        var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work));
        manager.Dispose();

        Assert.ThrowsExactly<ObjectDisposedException>(() => manager.Put(1));
        await Assert.ThrowsExactlyAsync<ObjectDisposedException>(() => manager.PutAsync(1).AsTask());
        Assert.AreEqual(0, spy.Entered);
    }

    [TestMethod]
    public void Put_AfterDispose_ObjectNameReadsAsTheTypeInCSharp()
    {
        var manager = JobManager.Create(Workers.Of<int>().Then(x => x.ToString(CultureInfo.InvariantCulture)));
        manager.Dispose();

        var error = Assert.ThrowsExactly<ObjectDisposedException>(() => manager.Put(1));

        Assert.AreEqual("JobManager<Int32, String>", error.ObjectName);
    }

    [TestMethod]
    public async Task PutAsync_AfterDisposeAsync_ThrowsObjectDisposed()
    {
        var spy = new WorkerSpy();
        var manager = JobManager.Create(Workers.Of<int>().Then(spy.WorkAsync));
        manager.Put(1);
        Assert.IsTrue(await manager.JoinAsync().WaitAsync(Bounded.Limit));
        await manager.DisposeAsync();

        await Assert.ThrowsExactlyAsync<ObjectDisposedException>(() => manager.PutAsync(2).AsTask());
        Assert.ThrowsExactly<ObjectDisposedException>(() => manager.Put(2));
        CollectionAssert.AreEqual(new[] { 1 }, spy.Seen.ToArray());
    }

    [TestMethod]
    public void Join_CalledTwice_ReturnsTheSameResult()
    {
        var spy = new WorkerSpy();
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work, threads: 2));
        for (var i = 0; i < 10; i++)
        {
            manager.Put(i);
        }

        Assert.IsTrue(manager.Join(Bounded.Limit));
        Assert.IsTrue(manager.Join(Bounded.Limit));
        Assert.IsTrue(manager.Join(TimeSpan.Zero));
        Assert.AreEqual(10, spy.Completed);
    }

    [TestMethod]
    public async Task Join_CalledTwiceAfterTimeout_BothReturnFalse()
    {
        var time = new ObservableTimeProvider();
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work), new JobOptions { TimeProvider = time });
        try
        {
            manager.Put(0);
            manager.Put(1);
            var first = manager.JoinAsync(TimeSpan.FromSeconds(1));
            await time.TimerCreated.WaitAsync(Bounded.Limit);
            time.Advance(TimeSpan.FromSeconds(1));

            Assert.IsFalse(await first.WaitAsync(Bounded.Limit));
            Assert.IsFalse(await Task.Run(() => manager.Join()).WaitAsync(Bounded.Limit), "A second Join must report the first one's outcome.");
        }
        finally
        {
            gate.Open();
        }
    }

    [TestMethod]
    public async Task Join_FromTwoThreadsAtOnce_BothReturnTheSameResult()
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

            using var start = new Barrier(2);
            var joins = Enumerable.Range(0, 2).Select(_ => Task.Factory.StartNew(
                () =>
                {
                    Assert.IsTrue(start.SignalAndWait(Bounded.Limit));
                    return manager.Join();
                },
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default)).ToArray();

            Bounded.Until(() => start.ParticipantsRemaining == 2 && start.CurrentPhaseNumber == 1, "both threads passed the start line");
            gate.Open();

            var results = await Task.WhenAll(joins).WaitAsync(Bounded.Limit);
            CollectionAssert.AreEqual(new[] { true, true }, results);
            Assert.AreEqual(10, spy.Completed);
        }
        finally
        {
            gate.Open();
        }
    }

    [TestMethod]
    public async Task Join_FromTwoThreadsAtOnceWithTimeout_BothReturnFalse()
    {
        var time = new ObservableTimeProvider();
        var gate = new Gate();
        var spy = new WorkerSpy(gate);
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work), new JobOptions { TimeProvider = time });
        try
        {
            manager.Put(0);
            manager.Put(1);
            var joins = Enumerable.Range(0, 2).Select(_ => Task.Run(() => manager.Join(TimeSpan.FromSeconds(3)))).ToArray();
            await time.TimerCreated.WaitAsync(Bounded.Limit);
            time.Advance(TimeSpan.FromSeconds(3));

            var results = await Task.WhenAll(joins).WaitAsync(Bounded.Limit);
            CollectionAssert.AreEqual(new[] { false, false }, results);
        }
        finally
        {
            gate.Open();
        }
    }

    [TestMethod]
    public async Task Put_FromManyThreadsAtOnce_EveryItemProcessedExactlyOnce()
    {
        const int Threads = 8;
        const int PerThread = 5_000;
        var counts = new int[Threads * PerThread];
        using var manager = JobManager.Create(
            Workers.Of<int>().Then(i => Interlocked.Increment(ref counts[i]), threads: 3),
            queueSize: 64);
        using var start = new Barrier(Threads);

        var putters = Enumerable.Range(0, Threads).Select(t => Task.Factory.StartNew(
            () =>
            {
                start.SignalAndWait(Bounded.Limit);
                for (var i = 0; i < PerThread; i++)
                {
                    manager.Put((i * Threads) + t);
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default)).ToArray();
        await Task.WhenAll(putters).WaitAsync(Bounded.Limit);

        Assert.IsTrue(await manager.JoinAsync().WaitAsync(Bounded.Limit));
        Assert.IsTrue(counts.All(n => n == 1), $"Items not processed exactly once: {string.Join(", ", counts.Select((n, i) => (n, i)).Where(x => x.n != 1).Take(10))}");
        Assert.AreEqual(Threads * PerThread, manager.Stat().Stages[0].Out);
    }

    [TestMethod]
    public async Task Join_WorkerThrows_ReturnsTrueAndCountsFailures()
    {
        var logger = new Mock<ILogger>();
        logger.Setup(l => l.IsEnabled(It.IsAny<LogLevel>())).Returns(true);
        var next = new WorkerSpy();
        await using var manager = JobManager.Create(
            Workers.Of<int>().Then(static (int i) => i % 3 == 0 ? throw new InvalidOperationException("boom " + i) : i, threads: 2).Then(next.Work),
            new JobOptions { Logger = logger.Object });
        for (var i = 0; i < 30; i++)
        {
            await manager.PutAsync(i);
        }

        Assert.IsTrue(await manager.JoinAsync().WaitAsync(Bounded.Limit));
        var stage = manager.Stat().Stages[0];
        Assert.AreEqual(10, stage.Failed);
        Assert.AreEqual(30, stage.Out);
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 30).Where(i => i % 3 != 0).ToArray(), next.Seen.ToArray());
        logger.Verify(
            l => l.Log(
                LogLevel.Error,
                It.IsAny<EventId>(),
                It.IsAny<It.IsAnyType>(),
                It.Is<Exception?>(e => e is InvalidOperationException),
                It.IsAny<Func<It.IsAnyType, Exception?, string>>()),
            Times.Exactly(10));
    }

    [TestMethod]
    public async Task Join_WorkerAndLoggerThrow_ReturnsTrue()
    {
        var logger = new Mock<ILogger>();
        logger.Setup(l => l.IsEnabled(It.IsAny<LogLevel>())).Returns(true);
        logger
            .Setup(l => l.Log(
                It.IsAny<LogLevel>(),
                It.IsAny<EventId>(),
                It.IsAny<It.IsAnyType>(),
                It.IsAny<Exception?>(),
                It.IsAny<Func<It.IsAnyType, Exception?, string>>()))
            .Throws(new InvalidOperationException("logger is broken"));
        var next = new WorkerSpy();
        Func<int, Task<int>> failsAsync = static async i =>
        {
            await Task.Yield();
            return i % 2 == 0 ? throw new ArgumentException("even " + i) : i;
        };
        await using var manager = JobManager.Create(
            Workers.Of<int>()
                .Then(static (int i) => i % 5 == 0 ? throw new InvalidOperationException("five " + i) : i, threads: 2)
                .Then(failsAsync, threads: 2)
                .Then(next.Work),
            new JobOptions { Logger = logger.Object });

        // Resizing logs too: a throwing logger must not break it.
        manager.SetThreadNum(failsAsync, 3);
        Assert.AreEqual(3, manager.Stat().Stages[1].WorkerCount);
        for (var i = 0; i < 100; i++)
        {
            await manager.PutAsync(i);
        }

        Assert.IsTrue(await manager.JoinAsync().WaitAsync(Bounded.Limit));
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 100).Where(i => i % 5 != 0 && i % 2 != 0).ToArray(), next.Seen.ToArray());
        Assert.AreEqual(20, manager.Stat().Stages[0].Failed);
        Assert.AreEqual(40, manager.Stat().Stages[1].Failed);
        logger.Verify(
            l => l.Log(
                LogLevel.Error,
                It.IsAny<EventId>(),
                It.IsAny<It.IsAnyType>(),
                It.IsAny<Exception?>(),
                It.IsAny<Func<It.IsAnyType, Exception?, string>>()),
            Times.AtLeastOnce());
    }

    [TestMethod]
    public async Task Join_DispatcherThrows_ReturnsTrueAndDropsOnlyThoseItems()
    {
        var logger = new Mock<ILogger>();
        logger.Setup(l => l.IsEnabled(It.IsAny<LogLevel>())).Returns(true);
        var spy = new WorkerSpy();
        var next = new WorkerSpy();
        await using var manager = JobManager.Create(
            Workers.Of<int>().Then(spy.Work, threads: 3, dispatcher: static i => i % 4 == 0 ? throw new InvalidOperationException("no partition") : i).Then(next.Work),
            new JobOptions { Logger = logger.Object });
        for (var i = 0; i < 40; i++)
        {
            await manager.PutAsync(i);
        }

        Assert.IsTrue(await manager.JoinAsync().WaitAsync(Bounded.Limit));
        var expected = Enumerable.Range(0, 40).Where(i => i % 4 != 0).ToArray();
        CollectionAssert.AreEquivalent(expected, spy.Seen.ToArray());
        CollectionAssert.AreEqual(expected, next.Seen.ToArray(), "A dispatcher stage passes its results on in input order.");
        Assert.AreEqual(10, manager.Stat().Stages[0].Failed);
        logger.Verify(
            l => l.Log(
                LogLevel.Error,
                It.IsAny<EventId>(),
                It.IsAny<It.IsAnyType>(),
                It.Is<Exception?>(e => e is InvalidOperationException),
                It.IsAny<Func<It.IsAnyType, Exception?, string>>()),
            Times.Exactly(10));
    }

    [TestMethod]
    public async Task Join_DispatcherAndLoggerThrow_ReturnsTrue()
    {
        var logger = new Mock<ILogger>();
        logger.Setup(l => l.IsEnabled(It.IsAny<LogLevel>())).Returns(true);
        logger
            .Setup(l => l.Log(
                It.IsAny<LogLevel>(),
                It.IsAny<EventId>(),
                It.IsAny<It.IsAnyType>(),
                It.IsAny<Exception?>(),
                It.IsAny<Func<It.IsAnyType, Exception?, string>>()))
            .Throws(new InvalidOperationException("logger is broken"));
        var spy = new WorkerSpy();
        await using var manager = JobManager.Create(
            Workers.Of<int>().Then(spy.Work, threads: 2, dispatcher: static i => i % 2 == 0 ? throw new InvalidOperationException("odd only") : i),
            new JobOptions { Logger = logger.Object, KeepOrder = true });
        for (var i = 0; i < 20; i++)
        {
            await manager.PutAsync(i);
        }

        Assert.IsTrue(await manager.JoinAsync().WaitAsync(Bounded.Limit));
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 20).Where(i => i % 2 != 0).ToArray(), spy.Seen.ToArray());
    }
}
