using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Stats;

/// <summary>Probe and Stat: live and final counts, queue sizes, worker counts, coordinator and dispatcher entries.</summary>
[TestClass]
public sealed class StatTests
{
    private static int Add1(int x) => x + 1;

    [TestMethod]
    public async Task Stat_WorkersHeldOnGate_DoingEqualsHeldCallsAndQueuesAreReported()
    {
        using var gate = new Gate();
        var probe = new Probe();
        var workers = Workers.Of<int>().Then(x => { gate.Pass(); return x; }, threads: 3, name: "held").Then(_ => { }, name: "sink");

        var run = JobQueue.RunAsync(Enumerable.Range(0, 10), workers, new JobOptions { Probe = probe, QueueSize = 16 });
        gate.WaitArrivals(3);
        Bounded.Until(() => JobQueue.Stat(probe).Stages[0].Input.Size == 7, "the 7 items not taken to wait in the first queue");
        var during = JobQueue.Stat(probe);
        gate.Open();
        var result = await run.Within();

        Assert.AreEqual(3, during.Doing);
        Assert.AreEqual(3, during.In);
        Assert.AreEqual(0, during.Out);
        Assert.HasCount(2, during.Stages);
        var held = during.Stages[0];
        Assert.AreEqual("held", held.Name);
        Assert.AreEqual(3, held.WorkerCount);
        Assert.AreEqual(3, held.Doing);
        Assert.AreEqual(new QueueStats(7, 16), held.Input);
        Assert.AreEqual(1, during.Stages[1].WorkerCount);
        Assert.AreEqual(16, during.Stages[1].Input.Capacity);

        var after = JobQueue.Stat(probe);
        Assert.AreEqual(0, after.Doing);
        Assert.AreEqual(20, after.In);
        Assert.AreEqual(20, after.Out);
        Assert.AreEqual(0, after.Stages[0].Input.Size);
        Assert.AreEqual(result.Stats.In, after.In);
    }

    [TestMethod]
    public async Task Stat_AsyncWorkersHeld_DoingEqualsHeldCalls()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new Probe();
        var workers = Workers.Of<int>().Then(async x => { await release.Task.WaitAsync(Bounded.Limit); return x; }, threads: 4);

        var run = JobQueue.RunAsync(Enumerable.Range(0, 9), workers, new JobOptions { Probe = probe });
        Bounded.Until(() => JobQueue.Stat(probe).Doing == 4, "four async calls in progress");
        var during = JobQueue.Stat(probe);
        release.SetResult();
        await run.Within();

        Assert.AreEqual(4, during.Stages[0].WorkerCount);
        Assert.AreEqual(4, during.Stages[0].Doing);
        Assert.AreEqual(0, JobQueue.Stat(probe).Doing);
        Assert.AreEqual(9, JobQueue.Stat(probe).Out);
    }

    [TestMethod]
    public async Task Stat_AfterRun_NoHiddenExtraStageAndTotalsAreSumsOverStages()
    {
        var probe = new Probe();
        var workers = Workers.Of<int>().Then(Add1).Then(Add1, threads: 2).Then(_ => { });

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 10), workers, new JobOptions { Probe = probe }).Within();
        var stats = JobQueue.Stat(probe);

        Assert.HasCount(workers.Count, stats.Stages);
        Assert.AreEqual(30, stats.In);
        Assert.AreEqual(30, stats.Out);
        Assert.AreEqual(stats.Stages.Sum(s => s.In), stats.In);
        Assert.AreEqual(stats.Stages.Sum(s => s.Out), stats.Out);
        Assert.AreEqual(0, stats.Doing);
        foreach (var stage in stats.Stages)
        {
            Assert.AreEqual(10, stage.In);
            Assert.AreEqual(10, stage.Out);
            Assert.AreEqual(0, stage.Doing);
            Assert.AreEqual(0, stage.Failed);
            Assert.AreEqual(0, stage.Dropped);
        }

        Assert.AreEqual(stats.In, result.Stats.In);
        Assert.HasCount(3, result.Stats.Stages);
    }

    [TestMethod]
    public async Task Stat_WithoutKeepOrderOrDispatcher_NoCoordinatorNoDispatcher()
    {
        var probe = new Probe();

        await JobQueue.RunAsync(Enumerable.Range(0, 5), Workers.Of<int>().Then(Add1, threads: 3).Then(Add1), new JobOptions { Probe = probe }).Within();

        foreach (var stage in JobQueue.Stat(probe).Stages)
        {
            Assert.IsNull(stage.Coordinator);
            Assert.IsNull(stage.Dispatcher);
        }
    }

    [TestMethod]
    public async Task Stat_KeepOrder_EveryStageHasCoordinator()
    {
        var probe = new Probe();

        await JobQueue.RunAsync(Enumerable.Range(0, 5), Workers.Of<int>().Then(Add1, threads: 3).Then(Add1).Then(_ => { }), new JobOptions { Probe = probe, KeepOrder = true, QueueSize = 32 }).Within();
        var stages = JobQueue.Stat(probe).Stages;

        // As in jobq, every stage reports one under keepOrder (the last stage's, whose outputs are discarded, stays empty).
        for (var i = 0; i < stages.Count; i++)
        {
            Assert.IsNotNull(stages[i].Coordinator, $"stage {i} under keepOrder");
            Assert.AreEqual(32, stages[i].Coordinator!.Value.Capacity);
            Assert.AreEqual(0, stages[i].Coordinator!.Value.Size);
            Assert.IsNull(stages[i].Dispatcher);
        }
    }

    [TestMethod]
    public async Task Stat_DispatcherStage_HasCoordinatorAndOneEntryPerPartition()
    {
        var probe = new Probe();
        var workers = Workers.Of<int>().Then(Add1).Then(Add1, threads: 4, dispatcher: x => x).Then(Add1);

        await JobQueue.RunAsync(Enumerable.Range(0, 50), workers, new JobOptions { Probe = probe, QueueSize = 64 }).Within();
        var stages = JobQueue.Stat(probe).Stages;

        Assert.IsNull(stages[0].Dispatcher);
        Assert.IsNull(stages[0].Coordinator);
        Assert.IsNotNull(stages[1].Coordinator);
        Assert.IsNotNull(stages[1].Dispatcher);
        Assert.HasCount(4, stages[1].Dispatcher!);
        Assert.AreEqual(4, stages[1].WorkerCount);
        foreach (var partition in stages[1].Dispatcher!)
        {
            Assert.AreEqual(new QueueStats(0, 64), partition.Input);
            Assert.AreEqual(new QueueStats(0, 64), partition.Output);
        }

        Assert.AreEqual(50, stages[1].In);
        Assert.AreEqual(50, stages[1].Out);
        Assert.IsNull(stages[2].Dispatcher);
    }

    [TestMethod]
    public async Task Stat_FailedAndDroppedCalls_CountedPerStage()
    {
        static IEnumerable<int> Gen(int x)
        {
            if (x == 1)
            {
                throw new InvalidOperationException("gen");
            }

            if (x % 2 == 0)
            {
                yield return x;
            }
        }

        var workers = Workers.Of<int>()
            .Then(x => x == 9 ? throw new InvalidOperationException("nine") : x)
            .Then(x => x % 3 == 0 ? JobQueue.EmptyRst : new WorkerResult<int>(x))
            .ThenMany(Gen);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 10), workers).Within();
        var stages = result.Stats.Stages;

        Assert.AreEqual(1, stages[0].Failed);
        Assert.AreEqual(0, stages[0].Dropped);
        Assert.AreEqual(10, stages[0].Out);

        Assert.AreEqual(9, stages[1].In); // 0..8
        Assert.AreEqual(3, stages[1].Dropped); // 0, 3, 6
        Assert.AreEqual(0, stages[1].Failed);

        Assert.AreEqual(6, stages[2].In); // 1, 2, 4, 5, 7, 8
        Assert.AreEqual(1, stages[2].Failed); // 1
        Assert.AreEqual(2, stages[2].Dropped); // 5, 7: nothing yielded
        Assert.AreEqual(6, stages[2].Out);
    }

    [TestMethod]
    public async Task Stat_StageNames_LocalFunctionsNamedAsTheirCodeReads()
    {
        static int Twice(int x) => x * 2;
        var offset = 1;
        int Shift(int x) => x + offset;

        var probe = new Probe();
        await JobQueue.RunAsync([1], Workers.Of<int>().Then(Twice).Then(Shift), new JobOptions { Probe = probe }).Within();
        var names = JobQueue.Stat(probe).Stages.Select(s => s.Name).ToArray();

        CollectionAssert.AreEqual(new[] { "StatTests.Twice", "StatTests.Shift" }, names);
    }

    [TestMethod]
    public async Task Stat_StageNames_MethodGroupLambdaExplicitAndSpeedLimit()
    {
        var probe = new Probe();
        var workers = Workers.Of<int>().Then(Add1).Then(x => x).Then(x => x, name: "custom").Then(JobQueue.LimitJobSpeed(1e9));

        await JobQueue.RunAsync([1], workers, new JobOptions { Probe = probe }).Within();
        var names = JobQueue.Stat(probe).Stages.Select(s => s.Name).ToArray();

        CollectionAssert.AreEqual(new[] { "StatTests.Add1", "stage1", "custom", "LimitJobSpeed" }, names);
    }

    [TestMethod]
    public void Stat_ProbeNeverUsed_EmptySnapshot()
    {
        var stats = JobQueue.Stat(new Probe());

        Assert.IsEmpty(stats.Stages);
        Assert.AreEqual(0, stats.In);
        Assert.AreEqual(0, stats.Out);
        Assert.AreEqual(0, stats.Doing);
    }

    [TestMethod]
    public async Task Stat_ProbeReused_FollowsLatestRun()
    {
        var probe = new Probe();

        await JobQueue.RunAsync(Enumerable.Range(0, 10), Workers.Of<int>().Then(Add1), new JobOptions { Probe = probe }).Within();
        await JobQueue.RunAsync(Enumerable.Range(0, 3), Workers.Of<int>().Then(Add1).Then(Add1), new JobOptions { Probe = probe }).Within();
        var stats = JobQueue.Stat(probe);

        Assert.HasCount(2, stats.Stages);
        Assert.AreEqual(6, stats.In);
    }

    [TestMethod]
    public async Task Run_ProbeArgumentOfBlockingRun_IsWrittenDuringTheRun()
    {
        using var gate = new Gate();
        var probe = new Probe();

        var run = Task.Run(() => JobQueue.Run(Enumerable.Range(0, 4), Workers.Of<int>().Then(x => { gate.Pass(); return x; }, threads: 2), probe: probe));
        gate.WaitArrivals(2);
        Bounded.Until(() => JobQueue.Stat(probe).Doing == 2, "two held calls to show in the probe");
        gate.Open();
        var result = await run.Within();

        Assert.AreEqual(4, result.Stats.Out);
        Assert.AreEqual(4, JobQueue.Stat(probe).Out);
    }

    [TestMethod]
    public async Task RunAsync_OptionsChangedAfterStart_RunKeepsTheProbeItStartedWith()
    {
        using var gate = new Gate();
        var first = new Probe();
        var second = new Probe();
        var options = new JobOptions { Probe = first };

        var run = JobQueue.RunAsync(Enumerable.Range(0, 3), Workers.Of<int>().Then(x => { gate.Pass(); return x; }), options);
        gate.WaitArrivals(1);
        options.Probe = second;
        gate.Open();
        await run.Within();

        Assert.AreEqual(3, JobQueue.Stat(first).Out);
        Assert.IsEmpty(JobQueue.Stat(second).Stages);
    }
}
