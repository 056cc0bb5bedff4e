namespace JobQ.Dataflow.Tests.Pipeline;

/// <summary>
/// A stage whose worker would pass on a task or a <see cref="WorkerResult{T}"/> as data (nobody would await it, and
/// <c>EmptyRst</c> would not drop) is refused when the worker list is built, with a message naming the stage and the fix.
/// </summary>
/// <remarks>
/// The worker overloads bind every async form of a method or lambda, so these stages come from code that hides the
/// worker's type, as a generic helper does: <see cref="AddStage{T}"/> binds <c>Then&lt;TNext&gt;(Func&lt;TOut, TNext&gt;)</c>
/// whatever <c>T</c> is.
/// </remarks>
[TestClass]
public sealed class StageOutputTypeTests
{
    private static Workers<int, T> AddStage<T>(Func<int, T> worker) => Workers.Of<int>().Then(x => x).Then(worker, name: "fetch");

    [TestMethod]
    public void Then_WorkerOutputsTask_ThrowsArgumentNamingStageAndFix()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => AddStage(_ => Task.CompletedTask));

        AssertNamesStageAndType(ex, "Task");
        Assert.Contains("Func<Int32, Task>", ex.Message);
    }

    [TestMethod]
    public void Then_WorkerOutputsValueTask_ThrowsArgumentNamingStageAndFix()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => AddStage(_ => ValueTask.CompletedTask));

        AssertNamesStageAndType(ex, "ValueTask");
        Assert.Contains("Func<Int32, ValueTask>", ex.Message);
    }

    [TestMethod]
    public void Then_WorkerOutputsTaskOfT_ThrowsArgumentNamingStageAndFix()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => AddStage(x => Task.FromResult(x)));

        AssertNamesStageAndType(ex, "Task<Int32>");
        Assert.Contains("declare it async, or, if it already is, await the task it returns", ex.Message);
    }

    [TestMethod]
    public void Then_WorkerOutputsValueTaskOfT_ThrowsArgumentNamingStageAndFix()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => AddStage(x => new ValueTask<int>(x)));

        AssertNamesStageAndType(ex, "ValueTask<Int32>");
        Assert.Contains("Func<Int32, ValueTask<Int32>>, with or without a CancellationToken", ex.Message);
    }

    [TestMethod]
    public void Then_WorkerOutputsWorkerResult_ThrowsArgumentNamingStageAndFix()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => AddStage(x => new WorkerResult<int>(x)));

        AssertNamesStageAndType(ex, "WorkerResult<Int32>");
        Assert.Contains("Return WorkerResult<Int32> from a worker declared so", ex.Message);
    }

    [TestMethod]
    public void Then_WorkerOutputsEmptyResult_ThrowsArgumentNamingStageAndFix()
    {
        // jobq's black-hole worker written without a WorkerResult type: EmptyRst would go on as a value.
        var ex = Assert.ThrowsExactly<ArgumentException>(() => AddStage(_ => JobQueue.EmptyRst));

        AssertNamesStageAndType(ex, "EmptyResult");
        Assert.Contains("Declare the worker to return WorkerResult<T>", ex.Message);
    }

    [TestMethod]
    public void Then_BlackHoleLambdaWithoutOutputType_RefusedByTheCompilerWithTheFix()
    {
        var errors = Docs.DocsTests.Compile("var black = Workers.Of<int>().Then(x => JobQueue.EmptyRst);");

        Assert.HasCount(1, errors, string.Join(Environment.NewLine, errors));
        Assert.Contains("CS0619", errors[0]);
        Assert.Contains("Then<T>(x => JobQueue.EmptyRst)", errors[0]);
    }

    [TestMethod]
    public void Then_BlackHoleLambdaWithOutputType_CompilesAndDropsEveryItem()
    {
        Assert.IsEmpty(Docs.DocsTests.Compile("var black = Workers.Of<int>().Then<int>(x => JobQueue.EmptyRst);"));

        var result = JobQueue.Run([1, 2, 3], Workers.Of<int>().Then<int>(x => JobQueue.EmptyRst));

        Assert.AreEqual(3, result.Stats.Stages[0].Dropped);
    }

    [TestMethod]
    public void Then_ExplicitTaskTypeArgument_ThrowsArgument()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => Workers.Of<int>().Then<Task<int>>(x => Task.FromResult(x)));

        Assert.Contains("Stage 0", ex.Message);
    }

    [TestMethod]
    public void Then_AsyncLambdaReturningATask_ThrowsArgument()
    {
        // The lambda's own task is awaited; the task it returns would be the data.
        var ex = Assert.ThrowsExactly<ArgumentException>(() => Workers.Of<int>().Then(async x => { await Task.Yield(); return Task.FromResult(x); }));

        Assert.Contains("Task<Int32>", ex.Message);
    }

    [TestMethod]
    public void ThenMany_GeneratorYieldsTasks_ThrowsArgumentNamingStage()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => Workers.Of<int>().ThenMany(x => new[] { Task.FromResult(x) }, name: "spawn"));

        Assert.Contains("Stage 0", ex.Message);
        Assert.Contains("spawn", ex.Message);
    }

    [TestMethod]
    public async Task Then_WorkerOutputsList_AcceptedAsData()
    {
        // A list (or any sequence) can be legitimate data: only tasks and WorkerResult are refused.
        var received = new List<List<int>>();

        var result = await JobQueue.RunAsync([1, 2], AddStage(x => new List<int> { x }).Then(received.Add)).WaitAsync(Support.Bounded.Limit);

        Assert.IsTrue(result.Completed);
        Assert.HasCount(2, received);
    }

    [TestMethod]
    public async Task Then_PassThroughStageOnTaskItems_Accepted()
    {
        // Items that are tasks from the input are the user's data; a stage that passes them on unchanged returns none of its own.
        var seen = 0;
        var workers = Workers.Of<Task<int>>().Then(_ => { Interlocked.Increment(ref seen); }).Then(JobQueue.LimitJobSpeed(1_000_000));

        var result = await JobQueue.RunAsync([Task.FromResult(1), Task.FromResult(2)], workers).WaitAsync(Support.Bounded.Limit);

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(2, seen);
    }

    [TestMethod]
    public async Task Then_TaskItemsMappedToTheirResults_Awaited()
    {
        var received = new List<int>();

        var result = await JobQueue.RunAsync([Task.FromResult(1), Task.FromResult(2)], Workers.Of<Task<int>>().Then(t => t).Then(received.Add)).WaitAsync(Support.Bounded.Limit);

        Assert.IsTrue(result.Completed);
        CollectionAssert.AreEquivalent(new[] { 1, 2 }, received);
    }

    private static void AssertNamesStageAndType(ArgumentException ex, string typeName)
    {
        Assert.AreEqual("worker", ex.ParamName);
        Assert.Contains("Stage 1", ex.Message);
        Assert.Contains("'fetch'", ex.Message);
        Assert.Contains($"its output type is {typeName},", ex.Message);
    }
}
