using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Pipeline;

/// <summary>EmptyRst and WorkerResult: returnable from a worker of any output type, value or reference.</summary>
[TestClass]
public sealed class WorkerResultTests
{
    [TestMethod]
    public void WorkerResult_FromValue_HasValue()
    {
        WorkerResult<int> result = 5;

        Assert.IsTrue(result.HasValue);
        Assert.AreEqual(5, result.Value);
        Assert.AreEqual("5", result.ToString());
    }

    [TestMethod]
    public void WorkerResult_FromEmptyRst_HasNoValueAndValueThrows()
    {
        WorkerResult<int> result = JobQueue.EmptyRst;

        Assert.IsFalse(result.HasValue);
        Assert.ThrowsExactly<InvalidOperationException>(() => _ = result.Value);
        Assert.AreEqual("EmptyRst", result.ToString());
    }

    [TestMethod]
    public void WorkerResult_FromNullReference_IsAValue()
    {
        WorkerResult<string?> result = (string?)null;

        Assert.IsTrue(result.HasValue);
        Assert.IsNull(result.Value);
    }

    [TestMethod]
    public void EmptyRst_EqualsEveryEmptyResult()
    {
        Assert.AreEqual(default(EmptyResult), JobQueue.EmptyRst);
        Assert.IsTrue(JobQueue.EmptyRst == default);
        Assert.AreEqual("EmptyRst", JobQueue.EmptyRst.ToString());
    }

    [TestMethod]
    public async Task Run_ReferenceTypeWorkerReturnsEmptyRst_ItemDroppedNullStillPassed()
    {
        static WorkerResult<string?> Describe(int i) => i switch
        {
            0 => JobQueue.EmptyRst,
            1 => (string?)null,
            _ => $"#{i}",
        };

        var received = new List<string?>();

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 4), Workers.Of<int>().Then(Describe).Then(received.Add)).Within();

        CollectionAssert.AreEqual(new[] { null, "#2", "#3" }, received);
        Assert.AreEqual(1, result.Stats.Stages[0].Dropped);
    }

    [TestMethod]
    public async Task Run_BlackHoleWorker_NothingReachesNextStage()
    {
        // jobq: def worker_back_hole(args): return jobq.EmptyRst
        var reached = 0;

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 50), Workers.Of<int>().Then(_ => (WorkerResult<int>)JobQueue.EmptyRst, threads: 3).Then(_ => Interlocked.Increment(ref reached))).Within();

        Assert.AreEqual(0, reached);
        Assert.AreEqual(50, result.Stats.Stages[0].Dropped);
        Assert.AreEqual(0, result.Stats.Stages[1].In);
    }
}
