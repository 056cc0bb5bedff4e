using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Management;

[TestClass]
public sealed class JobManagerStatTests
{
    /// <remarks>The stop races the first runs' admission and start, so the case runs many rounds.</remarks>
    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void Stat_JoinTimesOutAtOnce_EveryPutItemIsStartedOrStillQueued(bool dispatcherAfter)
    {
        for (var round = 0; round < 40; round++)
        {
            var workers = Workers.Of<int>().Then(x => x);
            using var manager = dispatcherAfter
                ? JobManager.Create(workers.Then(x => x, threads: 2, dispatcher: x => x))
                : JobManager.Create(workers);
            for (var i = 0; i < 10; i++)
            {
                manager.Put(i);
            }

            manager.Join(TimeSpan.Zero);
            manager.Dispose();

            var first = manager.Stat().Stages[0];
            Assert.AreEqual(10, first.In + first.Input.Size, $"round {round}: in {first.In}, queued {first.Input.Size}");
        }
    }

    [TestMethod]
    public void Stat_AfterResizes_WorkerCountFollowsEachResize()
    {
        var spy = new WorkerSpy();
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work).Then(spy.WorkAsync, threads: 2, name: "async"));

        Assert.AreEqual(1, manager.Stat().Stages[0].WorkerCount);
        Assert.AreEqual(2, manager.Stat().Stages[1].WorkerCount);

        manager.SetThreadNum(spy.Work, 3);
        Assert.AreEqual(3, manager.Stat().Stages[0].WorkerCount);
        Assert.AreEqual(2, manager.Stat().Stages[1].WorkerCount);

        manager.SetThreadNum(spy.WorkAsync, 5);
        Assert.AreEqual(5, manager.Stat().Stages[1].WorkerCount);

        manager.SetThreadNum(spy.Work, 2);
        Assert.AreEqual(2, manager.Stat().Stages[0].WorkerCount);

        Assert.ThrowsExactly<JobWorkerNotFoundException>(() => manager.SetThreadNum(new WorkerSpy().Work, 7));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => manager.SetThreadNum(spy.Work, 0));
        Assert.AreEqual(2, manager.Stat().Stages[0].WorkerCount);
        Assert.AreEqual(5, manager.Stat().Stages[1].WorkerCount);

        for (var i = 0; i < 50; i++)
        {
            manager.Put(i);
        }

        Assert.IsTrue(manager.Join(Bounded.Limit));
        manager.SetThreadNum(spy.Work, 6); // after Join: ignored
        var stats = manager.Stat();
        Assert.AreEqual(2, stats.Stages[0].WorkerCount);
        Assert.AreEqual(5, stats.Stages[1].WorkerCount);
        Assert.AreEqual("WorkerSpy.Work", stats.Stages[0].Name);
        Assert.AreEqual("async", stats.Stages[1].Name);
        Assert.AreEqual(50, stats.Stages[0].Out);
        Assert.AreEqual(50, stats.Stages[1].Out);
        Assert.AreEqual(100, stats.Out);
    }

    [TestMethod]
    public void Stat_SameAsProbe_ReportsTheSameSnapshot()
    {
        var probe = new Probe();
        var spy = new WorkerSpy();
        using var manager = JobManager.Create(Workers.Of<int>().Then(spy.Work, threads: 2), queueSize: 16, probe: probe);
        manager.SetThreadNum(spy.Work, 4);
        for (var i = 0; i < 20; i++)
        {
            manager.Put(i);
        }

        Assert.IsTrue(manager.Join(Bounded.Limit));
        var fromManager = manager.Stat();
        var fromProbe = JobQueue.Stat(probe);
        Assert.AreEqual(fromManager.In, fromProbe.In);
        Assert.AreEqual(fromManager.Out, fromProbe.Out);
        Assert.AreEqual(4, fromProbe.Stages[0].WorkerCount);
        Assert.AreEqual(16, fromProbe.Stages[0].Input.Capacity);
        Assert.AreEqual(20, fromProbe.In);
    }
}
