using System.Collections.Concurrent;
using JobQ.Dataflow.Tests.Support;

// Not "...Tests.Workers": a namespace of that name would hide the JobQ.Dataflow.Workers class from every test.
namespace JobQ.Dataflow.Tests.StageWorkers;

/// <summary>
/// Every worker shape a user writes, as a method group and as a lambda, binds to the overload that means it: a value
/// is passed on, <c>EmptyRst</c> drops the item, an action is awaited before the next stage sees the item, and the
/// next stage receives the values (never a task or a <see cref="WorkerResult{T}"/>).
/// </summary>
/// <remarks>
/// The next stage is written <c>x => Received.Add(x)</c> with an implicitly typed <c>x</c> on purpose: whatever the
/// stage's output type, it compiles, so a worker that binds to the wrong overload shows up as wrong values here.
/// </remarks>
[TestClass]
public sealed class WorkerShapeTests
{
    private static readonly int[] Input = [1, 2, 3, 4, 5, 6];
    private static readonly object[] Odd = [1, 3, 5];

    private readonly ConcurrentDictionary<int, bool> _done = new();
    private readonly ConcurrentQueue<object?> _received = new();
    private readonly ConcurrentQueue<bool> _tokensLive = new();

    private static int Add1(int x) => x + 1;

    private static WorkerResult<int> KeepOdd(int x) => x % 2 == 0 ? JobQueue.EmptyRst : x;

    private static async Task<int> Add1TaskAsync(int x)
    {
        await Task.Yield();
        return x + 1;
    }

    private static async Task<int> Add1TaskWithTokenAsync(int x, CancellationToken ct)
    {
        await Task.Delay(1, ct);
        return x + 1;
    }

    private static async ValueTask<int> Add1ValueTaskAsync(int x)
    {
        await Task.Yield();
        return x + 1;
    }

    private static async ValueTask<int> Add1ValueTaskWithTokenAsync(int x, CancellationToken ct)
    {
        await Task.Delay(1, ct);
        return x + 1;
    }

    private static async Task<WorkerResult<int>> KeepOddTaskAsync(int x)
    {
        await Task.Yield();
        return x % 2 == 0 ? JobQueue.EmptyRst : x;
    }

    private static async Task<WorkerResult<int>> KeepOddTaskWithTokenAsync(int x, CancellationToken ct)
    {
        await Task.Delay(1, ct);
        return x % 2 == 0 ? JobQueue.EmptyRst : x;
    }

    private static async ValueTask<WorkerResult<int>> KeepOddValueTaskAsync(int x)
    {
        await Task.Yield();
        return x % 2 == 0 ? JobQueue.EmptyRst : x;
    }

    private static async ValueTask<WorkerResult<int>> KeepOddValueTaskWithTokenAsync(int x, CancellationToken ct)
    {
        await Task.Delay(1, ct);
        return x % 2 == 0 ? JobQueue.EmptyRst : x;
    }

    private void Record(int x) => _done[x] = true;

    private async Task RecordTaskAsync(int x)
    {
        await Task.Yield();
        _done[x] = true;
    }

    private async Task RecordTaskWithTokenAsync(int x, CancellationToken ct)
    {
        _tokensLive.Enqueue(ct.CanBeCanceled);
        await Task.Delay(1, ct);
        _done[x] = true;
    }

    private async ValueTask RecordValueTaskAsync(int x)
    {
        await Task.Yield();
        _done[x] = true;
    }

    private async ValueTask RecordValueTaskWithTokenAsync(int x, CancellationToken ct)
    {
        _tokensLive.Enqueue(ct.CanBeCanceled);
        await Task.Delay(1, ct);
        _done[x] = true;
    }

    private static IEnumerable<int> Twice(int x)
    {
        yield return x;
        yield return x;
    }

    private static async IAsyncEnumerable<int> TwiceAsync(int x)
    {
        await Task.Yield();
        yield return x;
        yield return x;
    }

    private static async IAsyncEnumerable<int> TwiceWithTokenAsync(int x, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        await Task.Delay(1, ct);
        yield return x;
        yield return x;
    }

    // ---- Sync shapes ----

    [TestMethod]
    public async Task Then_SyncValueMethodGroup_ResultPassedOn()
        => AssertReceived(await RunAsync(Workers.Of<int>().Then(Add1).Then(x => _received.Enqueue(x))), Plus1());

    [TestMethod]
    public async Task Then_SyncValueLambda_ResultPassedOn()
        => AssertReceived(await RunAsync(Workers.Of<int>().Then(x => x + 1).Then(x => _received.Enqueue(x))), Plus1());

    [TestMethod]
    public async Task Then_SyncWorkerResultMethodGroup_EmptyRstDrops()
        => AssertKeptOdd(await RunAsync(Workers.Of<int>().Then(KeepOdd).Then(x => _received.Enqueue(x))));

    [TestMethod]
    public async Task Then_EmptyRstConditionalLambdaWithOutputTypeArgument_EmptyRstDrops()
        => AssertKeptOdd(await RunAsync(Workers.Of<int>().Then<int>(x => x % 2 == 0 ? JobQueue.EmptyRst : x).Then(x => _received.Enqueue(x))));

    [TestMethod]
    public async Task Then_EmptyRstConditionalLambdaWithExplicitReturnType_EmptyRstDrops()
        => AssertKeptOdd(await RunAsync(Workers.Of<int>().Then(WorkerResult<int> (x) => x % 2 == 0 ? JobQueue.EmptyRst : x).Then(x => _received.Enqueue(x))));

    [TestMethod]
    public async Task Then_EmptyRstConditionalLambdaWithTypedValueBranch_EmptyRstDrops()
        => AssertKeptOdd(await RunAsync(Workers.Of<int>().Then(x => x % 2 == 0 ? JobQueue.EmptyRst : new WorkerResult<int>(x)).Then(x => _received.Enqueue(x))));

    [TestMethod]
    public async Task Then_SyncActionMethodGroup_CalledBeforeItemPassedOn()
        => AssertAwaitedAndPassedOn(await RunAsync(Workers.Of<int>().Then(Record).Then(x => Observe(x))));

    [TestMethod]
    public async Task Then_SyncActionLambda_CalledBeforeItemPassedOn()
        => AssertAwaitedAndPassedOn(await RunAsync(Workers.Of<int>().Then(x => { _done[x] = true; }).Then(x => Observe(x))));

    [TestMethod]
    public async Task ThenMany_EnumerableMethodGroup_EachElementPassedOn()
        => AssertReceived(await RunAsync(Workers.Of<int>().ThenMany(Twice).Then(x => _received.Enqueue(x))), Doubled());

    [TestMethod]
    public async Task ThenMany_EnumerableLambda_EachElementPassedOn()
        => AssertReceived(await RunAsync(Workers.Of<int>().ThenMany(x => new[] { x, x }).Then(x => _received.Enqueue(x))), Doubled());

    // ---- Async shapes returning a value ----

    [TestMethod]
    public async Task Then_TaskValueMethodGroup_AwaitedResultPassedOn()
        => AssertReceived(await RunAsync(Workers.Of<int>().Then(Add1TaskAsync).Then(x => _received.Enqueue(x))), Plus1());

    [TestMethod]
    public async Task Then_TaskValueMethodGroupWithToken_AwaitedResultPassedOn()
        => AssertReceived(await RunAsync(Workers.Of<int>().Then(Add1TaskWithTokenAsync).Then(x => _received.Enqueue(x))), Plus1());

    [TestMethod]
    public async Task Then_ValueTaskValueMethodGroup_AwaitedResultPassedOn()
        => AssertReceived(await RunAsync(Workers.Of<int>().Then(Add1ValueTaskAsync).Then(x => _received.Enqueue(x))), Plus1());

    [TestMethod]
    public async Task Then_ValueTaskValueMethodGroupWithToken_AwaitedResultPassedOn()
        => AssertReceived(await RunAsync(Workers.Of<int>().Then(Add1ValueTaskWithTokenAsync).Then(x => _received.Enqueue(x))), Plus1());

    [TestMethod]
    public async Task Then_AsyncValueLambda_AwaitedResultPassedOn()
        => AssertReceived(await RunAsync(Workers.Of<int>().Then(async x => { await Task.Yield(); return x + 1; }).Then(x => _received.Enqueue(x))), Plus1());

    [TestMethod]
    public async Task Then_AsyncValueLambdaWithToken_AwaitedResultPassedOn()
        => AssertReceived(await RunAsync(Workers.Of<int>().Then(async (x, ct) => { await Task.Delay(1, ct); return x + 1; }).Then(x => _received.Enqueue(x))), Plus1());

    [TestMethod]
    public async Task Then_ValueTaskValueLambda_ResultPassedOn()
        => AssertReceived(await RunAsync(Workers.Of<int>().Then(x => new ValueTask<int>(x + 1)).Then(x => _received.Enqueue(x))), Plus1());

    [TestMethod]
    public async Task Then_ValueTaskValueLambdaWithToken_ResultPassedOn()
        => AssertReceived(await RunAsync(Workers.Of<int>().Then((x, ct) => new ValueTask<int>(x + 1)).Then(x => _received.Enqueue(x))), Plus1());

    // ---- Async shapes returning WorkerResult<T> ----

    [TestMethod]
    public async Task Then_TaskWorkerResultMethodGroup_EmptyRstDrops()
        => AssertKeptOdd(await RunAsync(Workers.Of<int>().Then(KeepOddTaskAsync).Then(x => _received.Enqueue(x))));

    [TestMethod]
    public async Task Then_TaskWorkerResultMethodGroupWithToken_EmptyRstDrops()
        => AssertKeptOdd(await RunAsync(Workers.Of<int>().Then(KeepOddTaskWithTokenAsync).Then(x => _received.Enqueue(x))));

    [TestMethod]
    public async Task Then_ValueTaskWorkerResultMethodGroup_EmptyRstDrops()
        => AssertKeptOdd(await RunAsync(Workers.Of<int>().Then(KeepOddValueTaskAsync).Then(x => _received.Enqueue(x))));

    [TestMethod]
    public async Task Then_ValueTaskWorkerResultMethodGroupWithToken_EmptyRstDrops()
        => AssertKeptOdd(await RunAsync(Workers.Of<int>().Then(KeepOddValueTaskWithTokenAsync).Then(x => _received.Enqueue(x))));

    [TestMethod]
    public async Task Then_AsyncWorkerResultLambda_EmptyRstDrops()
        => AssertKeptOdd(await RunAsync(Workers.Of<int>()
            .Then(async x =>
            {
                await Task.Yield();
                return x % 2 == 0 ? JobQueue.EmptyRst : new WorkerResult<int>(x);
            })
            .Then(x => _received.Enqueue(x))));

    [TestMethod]
    public async Task Then_AsyncEmptyRstConditionalLambdaWithOutputTypeArgument_EmptyRstDrops()
        => AssertKeptOdd(await RunAsync(Workers.Of<int>()
            .Then<int>(async x =>
            {
                await Task.Yield();
                return x % 2 == 0 ? JobQueue.EmptyRst : x;
            })
            .Then(x => _received.Enqueue(x))));

    [TestMethod]
    public async Task Then_AsyncEmptyRstConditionalLambdaWithTokenAndOutputTypeArgument_EmptyRstDrops()
        => AssertKeptOdd(await RunAsync(Workers.Of<int>()
            .Then<int>(async (x, ct) =>
            {
                await Task.Delay(1, ct);
                return x % 2 == 0 ? JobQueue.EmptyRst : x;
            })
            .Then(x => _received.Enqueue(x))));

    [TestMethod]
    public async Task Then_ValueTaskWorkerResultLambda_EmptyRstDrops()
        => AssertKeptOdd(await RunAsync(Workers.Of<int>().Then(x => new ValueTask<WorkerResult<int>>(KeepOdd(x))).Then(x => _received.Enqueue(x))));

    [TestMethod]
    public async Task Then_ValueTaskWorkerResultLambdaWithToken_EmptyRstDrops()
        => AssertKeptOdd(await RunAsync(Workers.Of<int>().Then((x, ct) => new ValueTask<WorkerResult<int>>(KeepOdd(x))).Then(x => _received.Enqueue(x))));

    // ---- Async shapes returning nothing: pass-through stages ----

    [TestMethod]
    public async Task Then_TaskActionMethodGroup_AwaitedBeforeItemPassedOn()
        => AssertAwaitedAndPassedOn(await RunAsync(Workers.Of<int>().Then(RecordTaskAsync).Then(x => Observe(x))));

    [TestMethod]
    public async Task Then_TaskActionMethodGroupWithToken_AwaitedBeforeItemPassedOnWithLiveToken()
    {
        AssertAwaitedAndPassedOn(await RunAsync(Workers.Of<int>().Then(RecordTaskWithTokenAsync).Then(x => Observe(x))));
        AssertTokensLive();
    }

    [TestMethod]
    public async Task Then_ValueTaskActionMethodGroup_AwaitedBeforeItemPassedOn()
        => AssertAwaitedAndPassedOn(await RunAsync(Workers.Of<int>().Then(RecordValueTaskAsync).Then(x => Observe(x))));

    [TestMethod]
    public async Task Then_ValueTaskActionMethodGroupWithToken_AwaitedBeforeItemPassedOnWithLiveToken()
    {
        AssertAwaitedAndPassedOn(await RunAsync(Workers.Of<int>().Then(RecordValueTaskWithTokenAsync).Then(x => Observe(x))));
        AssertTokensLive();
    }

    [TestMethod]
    public async Task Then_AsyncActionLambda_AwaitedBeforeItemPassedOn()
        => AssertAwaitedAndPassedOn(await RunAsync(Workers.Of<int>().Then(async x => { await Task.Yield(); _done[x] = true; }).Then(x => Observe(x))));

    [TestMethod]
    public async Task Then_AsyncActionLambdaWithToken_AwaitedBeforeItemPassedOn()
        => AssertAwaitedAndPassedOn(await RunAsync(Workers.Of<int>().Then(async (x, ct) => { await Task.Delay(1, ct); _done[x] = true; }).Then(x => Observe(x))));

    [TestMethod]
    public async Task Then_ValueTaskActionLambda_AwaitedBeforeItemPassedOn()
        => AssertAwaitedAndPassedOn(await RunAsync(Workers.Of<int>().Then(x => RecordValueTaskAsync(x)).Then(x => Observe(x))));

    [TestMethod]
    public async Task Then_ValueTaskActionLambdaWithToken_AwaitedBeforeItemPassedOn()
        => AssertAwaitedAndPassedOn(await RunAsync(Workers.Of<int>().Then((x, ct) => RecordValueTaskWithTokenAsync(x, ct)).Then(x => Observe(x))));

    [TestMethod]
    public async Task Then_ValueTaskActionCompletedSynchronously_ItemPassedOn()
        => AssertAwaitedAndPassedOn(await RunAsync(Workers.Of<int>().Then(x => { _done[x] = true; return ValueTask.CompletedTask; }).Then(x => Observe(x))));

    [TestMethod]
    public async Task Then_ValueTaskActionFaults_ItemFailedNotPassedOn()
    {
        static async ValueTask FailOnEvenAsync(int x)
        {
            await Task.Yield();
            if (x % 2 == 0)
            {
                throw new InvalidOperationException("even");
            }
        }

        var result = await RunAsync(Workers.Of<int>().Then(FailOnEvenAsync).Then(x => _received.Enqueue(x)), new JobOptions { Logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance });

        CollectionAssert.AreEquivalent(Odd, _received.ToArray());
        Assert.AreEqual(3, result.Stats.Stages[0].Failed);
    }

    // ---- Async sequences ----

    [TestMethod]
    public async Task ThenMany_AsyncEnumerableMethodGroup_EachElementPassedOn()
        => AssertReceived(await RunAsync(Workers.Of<int>().ThenMany(TwiceAsync).Then(x => _received.Enqueue(x))), Doubled());

    [TestMethod]
    public async Task ThenMany_AsyncEnumerableMethodGroupWithToken_EachElementPassedOn()
        => AssertReceived(await RunAsync(Workers.Of<int>().ThenMany(TwiceWithTokenAsync).Then(x => _received.Enqueue(x))), Doubled());

    private static object[] Plus1() => [.. Input.Select(x => (object)(x + 1))];

    private static object[] Doubled() => [.. Input.SelectMany(x => new object[] { x, x })];

    private static Task<JobRunResult> RunAsync<TOut>(Workers<int, TOut> workers, JobOptions? options = null)
        => JobQueue.RunAsync(Input, workers, options ?? new JobOptions { KeepOrder = true }).Within();

    /// <summary>Records, for an item the next stage received, the item and whether the worker's call on it had finished.</summary>
    private void Observe(object? x)
    {
        _received.Enqueue(x);
        _received.Enqueue(x is int item && _done.ContainsKey(item));
    }

    private void AssertReceived(JobRunResult result, object[] expected)
    {
        Assert.IsTrue(result.Completed);
        CollectionAssert.AreEqual(expected, _received.ToArray());
    }

    private void AssertKeptOdd(JobRunResult result)
    {
        Assert.IsTrue(result.Completed);
        CollectionAssert.AreEqual(Odd, _received.ToArray());
        Assert.AreEqual(3, result.Stats.Stages[0].Dropped);
    }

    /// <summary>The next stage saw every input item, each after the worker's call on it had finished.</summary>
    private void AssertAwaitedAndPassedOn(JobRunResult result)
    {
        Assert.IsTrue(result.Completed);
        object[] expected = [.. Input.SelectMany(x => new object[] { x, true })];
        CollectionAssert.AreEqual(expected, _received.ToArray());
    }

    private void AssertTokensLive()
    {
        Assert.HasCount(Input.Length, _tokensLive);
        Assert.IsTrue(_tokensLive.All(live => live), "the worker must receive the run's token, not CancellationToken.None");
    }
}
