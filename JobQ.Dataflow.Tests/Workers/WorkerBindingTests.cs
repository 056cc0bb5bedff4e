using System.Collections.Concurrent;
using JobQ.Dataflow.Tests.Support;

// Not "...Tests.Workers": a namespace of that name would hide the JobQ.Dataflow.Workers class from every test.
namespace JobQ.Dataflow.Tests.StageWorkers;

/// <summary>
/// Shapes that compile against more than one overload, or that compile but cannot mean what they say: a method group
/// with a form with and a form without a token binds to the one without, whatever its return type; an <c>async void</c>
/// worker is refused, since nothing could await it.
/// </summary>
[TestClass]
public sealed class WorkerBindingTests
{
    private static readonly int[] Input = [1, 2, 3, 4];
    private static readonly int[] Plus1 = [2, 3, 4, 5];
    private static readonly int[] Odd = [1, 3];
    private static readonly int[] Doubled = [1, 1, 2, 2, 3, 3, 4, 4];

    private readonly ConcurrentQueue<int> _received = new();

    [TestMethod]
    public async Task Then_TaskMethodGroupWithAndWithoutToken_BindsThePlainForm()
        => await AssertReceivedAsync(Workers.Of<int>().Then(Both.Add1TaskAsync), Plus1);

    [TestMethod]
    public async Task Then_ValueTaskMethodGroupWithAndWithoutToken_BindsThePlainForm()
        => await AssertReceivedAsync(Workers.Of<int>().Then(Both.Add1ValueTaskAsync), Plus1);

    [TestMethod]
    public async Task Then_TaskOfWorkerResultMethodGroupWithAndWithoutToken_BindsThePlainForm()
        => await AssertReceivedAsync(Workers.Of<int>().Then(Both.KeepOddTaskAsync), Odd);

    [TestMethod]
    public async Task Then_ValueTaskOfWorkerResultMethodGroupWithAndWithoutToken_BindsThePlainForm()
        => await AssertReceivedAsync(Workers.Of<int>().Then(Both.KeepOddValueTaskAsync), Odd);

    [TestMethod]
    public async Task Then_TaskActionMethodGroupWithAndWithoutToken_BindsThePlainForm()
        => await AssertReceivedAsync(Workers.Of<int>().Then(Both.WaitTaskAsync), Input);

    [TestMethod]
    public async Task Then_ValueTaskActionMethodGroupWithAndWithoutToken_BindsThePlainForm()
        => await AssertReceivedAsync(Workers.Of<int>().Then(Both.WaitValueTaskAsync), Input);

    [TestMethod]
    public async Task ThenMany_AsyncEnumerableMethodGroupWithAndWithoutToken_BindsThePlainForm()
        => await AssertReceivedAsync(Workers.Of<int>().ThenMany(Both.TwiceAsync), Doubled);

    [TestMethod]
    public async Task ThenMany_AsyncEnumerableOfWorkerResultMethodGroupWithAndWithoutToken_BindsThePlainForm()
        => await AssertReceivedAsync(Workers.Of<int>().ThenMany(Both.OddOnceAsync), Odd);

    [TestMethod]
    public void Then_AsyncLambdaTypedAsAction_ThrowsNamingTheStageAndTheFix()
    {
        Action<int> handle = async x => await Task.Yield();

        var ex = Assert.ThrowsExactly<ArgumentException>(() => Workers.Of<int>().Then(x => x).Then(handle));

        Assert.AreEqual("worker", ex.ParamName);
        StringAssert.StartsWith(ex.Message, "Stage 1 (");
        StringAssert.Contains(ex.Message, "async void");
        StringAssert.Contains(ex.Message, "Func<Int32, Task>");
    }

    [TestMethod]
    public void Then_AsyncVoidMethodGroup_Throws()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => Workers.Of<int>().Then(Both.HandleAsync));

        StringAssert.Contains(ex.Message, "Stage 0 ('Both.HandleAsync')");
        StringAssert.Contains(ex.Message, "async void");
    }

    [TestMethod]
    public void Then_AsyncLambdaTypedAsActionWithToken_ThrowsNamingTheTokenForm()
    {
        Action<int, CancellationToken> handle = async (x, ct) => await Task.Delay(1, ct);

        var ex = Assert.ThrowsExactly<ArgumentException>(() => Workers.Of<int>().Then(handle));

        StringAssert.Contains(ex.Message, "Func<Int32, CancellationToken, Task>");
    }

    [TestMethod]
    public void Then_SyncActionVariable_IsAccepted()
    {
        Action<int> handle = x => { };

        Assert.AreEqual(1, Workers.Of<int>().Then(handle).Count);
    }

    [TestMethod]
    public void Then_SpeedLimitWithEmptyName_ThrowsNamingTheStage()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => Workers.Of<int>().Then(x => x).Then(JobQueue.LimitJobSpeed(10), name: " "));

        Assert.AreEqual("name", ex.ParamName);
        StringAssert.StartsWith(ex.Message, "Stage 1: a stage name must not be empty");
    }

    [TestMethod]
    public async Task Then_NullLambdaWithExplicitOutputType_FailureSaysHowToPassNullOn()
    {
        // null converts to Task<string?>, whose overload outranks the sync one: the message must say how to mean the value.
        // (The compiler warns that the lambda returns a null task; the ! silences that hint here.)
        var failures = new ConcurrentQueue<JobFailure>();
        var options = new JobOptions { ErrorPolicy = ErrorPolicy.Handle(failures.Enqueue) };

        var result = await JobQueue.RunAsync(Input, Workers.Of<int>().Then<string?>(x => null!), options).Within();

        Assert.HasCount(Input.Length, failures);
        StringAssert.Contains(failures.First().Exception.Message, "String? (x) => null");
        Assert.AreEqual(Input.Length, result.Stats.Stages[0].Failed);
    }

    private async Task AssertReceivedAsync<TOut>(Workers<int, TOut> workers, int[] expected)
    {
        var result = await JobQueue.RunAsync(Input, workers.Then(x => _received.Enqueue(Convert.ToInt32(x))), new JobOptions { KeepOrder = true }).Within();

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(0, result.Stats.Stages[0].Failed, "the form with a token was chosen");
        CollectionAssert.AreEqual(expected, _received.ToArray());
    }

    /// <summary>Method groups with a form with and a form without a token; the forms with a token are never called.</summary>
    private static class Both
    {
        public static async Task<int> Add1TaskAsync(int x)
        {
            await Task.Yield();
            return x + 1;
        }

        public static Task<int> Add1TaskAsync(int x, CancellationToken ct) => throw Chosen();

        public static async ValueTask<int> Add1ValueTaskAsync(int x)
        {
            await Task.Yield();
            return x + 1;
        }

        public static ValueTask<int> Add1ValueTaskAsync(int x, CancellationToken ct) => throw Chosen();

        public static async Task<WorkerResult<int>> KeepOddTaskAsync(int x)
        {
            await Task.Yield();
            return x % 2 == 0 ? JobQueue.EmptyRst : x;
        }

        public static Task<WorkerResult<int>> KeepOddTaskAsync(int x, CancellationToken ct) => throw Chosen();

        public static async ValueTask<WorkerResult<int>> KeepOddValueTaskAsync(int x)
        {
            await Task.Yield();
            return x % 2 == 0 ? JobQueue.EmptyRst : x;
        }

        public static ValueTask<WorkerResult<int>> KeepOddValueTaskAsync(int x, CancellationToken ct) => throw Chosen();

        public static async Task WaitTaskAsync(int x) => await Task.Yield();

        public static Task WaitTaskAsync(int x, CancellationToken ct) => throw Chosen();

        public static async ValueTask WaitValueTaskAsync(int x) => await Task.Yield();

        public static ValueTask WaitValueTaskAsync(int x, CancellationToken ct) => throw Chosen();

        public static async IAsyncEnumerable<int> TwiceAsync(int x)
        {
            await Task.Yield();
            yield return x;
            yield return x;
        }

        public static IAsyncEnumerable<int> TwiceAsync(int x, CancellationToken ct) => throw Chosen();

        public static async IAsyncEnumerable<WorkerResult<int>> OddOnceAsync(int x)
        {
            await Task.Yield();
            yield return x % 2 == 0 ? JobQueue.EmptyRst : x;
        }

        public static IAsyncEnumerable<WorkerResult<int>> OddOnceAsync(int x, CancellationToken ct) => throw Chosen();

        public static async void HandleAsync(int x) => await Task.Yield();

        private static AssertFailedException Chosen() => new("the form with a token was chosen");
    }
}
