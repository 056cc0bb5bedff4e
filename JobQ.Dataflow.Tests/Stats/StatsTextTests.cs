namespace JobQ.Dataflow.Tests.Stats;

/// <summary>A run's result and statistics print as C# records do (<c>Type { Member = value, ... }</c>), as jobq's stat dict prints.</summary>
[TestClass]
public sealed class StatsTextTests
{
    [TestMethod]
    public void ToString_FinishedRun_ReadsEveryCountAsARecordDoes()
    {
        var result = JobQueue.Run(Enumerable.Range(0, 4), Workers.Of<int>().Then(x => x + 1, name: "add1").Then(_ => { }, name: "sink"));

        Assert.AreEqual(
            "StageStats { Name = add1, In = 4, Out = 4, Doing = 0, Failed = 0, Dropped = 0, WorkerCount = 1, Input = QueueStats { Size = 0, Capacity = 1024 } }",
            result.Stats.Stages[0].ToString());
        Assert.AreEqual(
            $"JobStats {{ In = 8, Out = 8, Doing = 0, Stages = [ {result.Stats.Stages[0]}, {result.Stats.Stages[1]} ] }}",
            result.Stats.ToString());
        Assert.AreEqual($"JobRunResult {{ Completed = True, Failed = 0, Stats = {result.Stats} }}", result.ToString());
    }

    [TestMethod]
    public void ToString_KeepOrderAndDispatcher_ShowsCoordinatorAndPartitions()
    {
        var result = JobQueue.Run(
            Enumerable.Range(0, 4),
            Workers.Of<int>().Then(x => x, threads: 2, dispatcher: x => x, name: "split"),
            new JobOptions { KeepOrder = true, QueueSize = 8 });

        var text = result.Stats.Stages[0].ToString();

        StringAssert.StartsWith(text, "StageStats { Name = split, In = 4, Out = 4, Doing = 0, Failed = 0, Dropped = 0, WorkerCount = 2, ");
        StringAssert.Contains(text, "Coordinator = QueueStats { Size = 0, Capacity = 8 }");
        StringAssert.EndsWith(text, $"Dispatcher = [ {result.Stats.Stages[0].Dispatcher![0]}, {result.Stats.Stages[0].Dispatcher![1]} ] }}");
    }

    [TestMethod]
    public void ToString_NoRunYet_EmptyStages()
        => Assert.AreEqual("JobStats { In = 0, Out = 0, Doing = 0, Stages = [ ] }", JobQueue.Stat(new Probe()).ToString());
}
