using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Management;

[TestClass]
public sealed class JobManagerCreateTests
{
    [TestMethod]
    [DataRow(0)]
    [DataRow(-5)]
    public void Create_QueueSizeNotPositive_ThrowsArgumentOutOfRange(int queueSize)
    {
        var spy = new WorkerSpy();

        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => JobManager.Create(Workers.Of<int>().Then(spy.Work), queueSize));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => JobManager.Create(Workers.Of<int>().Then(spy.Work), new JobOptions { QueueSize = queueSize }));
        Assert.AreEqual(0, spy.Entered);
    }

    [TestMethod]
    public void Create_ProgressIntervalAboveTimerLimit_ThrowsArgumentOutOfRangeBeforeAnyWorkerStarts()
    {
        var spy = new WorkerSpy();
        var options = new JobOptions { Progress = new Progress<JobStats>(), ProgressInterval = TimeSpan.MaxValue };

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => JobManager.Create(Workers.Of<int>().Then(spy.Work), options));

        Assert.AreEqual("options", error.ParamName);
        Assert.AreEqual(TimeSpan.MaxValue, error.ActualValue);
        Assert.Contains("ProgressInterval", error.Message);
        Assert.AreEqual(0, spy.Entered);
    }

    [TestMethod]
    public void Create_NullOrEmptyWorkers_Throws()
    {
        Assert.ThrowsExactly<ArgumentNullException>(() => JobManager.Create<int, int>(null!));
        Assert.ThrowsExactly<ArgumentNullException>(() => JobManager.Create(Workers.Of<int>().Then(static (int i) => i), null!));
        Assert.ThrowsExactly<ArgumentException>(() => JobManager.Create(Workers.Of<int>()));
    }

    [TestMethod]
    public void Constructor_KeepOrder_EveryStageHasACoordinator()
    {
        var spy = new WorkerSpy();
        using var manager = new JobManager<int, int>(Workers.Of<int>().Then(spy.Work, threads: 2).Then(spy.WorkAsync), queueSize: 8, keepOrder: true);

        var stats = manager.Stat();

        Assert.IsNotNull(stats.Stages[0].Coordinator);
        Assert.AreEqual(8, stats.Stages[0].Input.Capacity);
        Assert.AreEqual(2, stats.Stages[0].WorkerCount);
        Assert.IsTrue(manager.Join(Bounded.Limit));
    }
}
