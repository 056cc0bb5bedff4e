using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Tests.Support;

// Not "...Tests.Workers": a namespace of that name would hide the JobQ.Dataflow.Workers class from every test.
namespace JobQ.Dataflow.Tests.StageWorkers;

/// <summary>
/// Every worker shape, as a method group and as a lambda, through each entry point that takes a worker list: the
/// blocking <c>Run</c>, <c>JobManager.Create</c> and <c>CreateBlock</c> (<see cref="WorkerShapeTests"/> covers
/// <c>RunAsync</c>).
/// </summary>
/// <remarks>
/// Each shape builds a <c>Workers&lt;int, int&gt;</c>: a shape that bound to the wrong overload (a stage whose output
/// type is a <c>ValueTask</c>, a <c>Task&lt;int&gt;</c> or a <c>WorkerResult&lt;int&gt;</c>) does not compile here. Running
/// it checks what the next stage receives: a value, nothing for <c>EmptyRst</c>, or the item itself once the call on
/// it has finished.
/// </remarks>
[TestClass]
public sealed class WorkerShapeEntryPointTests
{
    private static readonly int[] Input = [1, 2, 3, 4, 5, 6];

    private static readonly Shape[] Shapes =
    [
        // ---- Method groups ----
        new("sync value method", Expect.Plus1, false, r => Workers.Of<int>().Then(r.Add1)),
        new("sync WorkerResult method", Expect.KeptOdd, false, r => Workers.Of<int>().Then(r.KeepOdd)),
        new("sync action method", Expect.PassedOn, false, r => Workers.Of<int>().Then(r.Record)),
        new("sync sequence method", Expect.Doubled, false, r => Workers.Of<int>().ThenMany(r.Twice)),
        new("sync value method with token", Expect.Plus1, true, r => Workers.Of<int>().Then(r.Add1WithToken)),
        new("sync action method with token", Expect.PassedOn, true, r => Workers.Of<int>().Then(r.RecordWithToken)),
        new("sync sequence method with token", Expect.Doubled, true, r => Workers.Of<int>().ThenMany(r.TwiceWithToken)),
        new("sync action method group with and without token", Expect.PassedOn, false, r => Workers.Of<int>().Then(r.RecordEitherWay)),
        new("Task<T> method", Expect.Plus1, false, r => Workers.Of<int>().Then(r.Add1TaskAsync)),
        new("Task<T> method with token", Expect.Plus1, true, r => Workers.Of<int>().Then(r.Add1TaskWithTokenAsync)),
        new("ValueTask<T> method", Expect.Plus1, false, r => Workers.Of<int>().Then(r.Add1ValueTaskAsync)),
        new("ValueTask<T> method with token", Expect.Plus1, true, r => Workers.Of<int>().Then(r.Add1ValueTaskWithTokenAsync)),
        new("Task<WorkerResult<T>> method", Expect.KeptOdd, false, r => Workers.Of<int>().Then(r.KeepOddTaskAsync)),
        new("Task<WorkerResult<T>> method with token", Expect.KeptOdd, true, r => Workers.Of<int>().Then(r.KeepOddTaskWithTokenAsync)),
        new("ValueTask<WorkerResult<T>> method", Expect.KeptOdd, false, r => Workers.Of<int>().Then(r.KeepOddValueTaskAsync)),
        new("ValueTask<WorkerResult<T>> method with token", Expect.KeptOdd, true, r => Workers.Of<int>().Then(r.KeepOddValueTaskWithTokenAsync)),
        new("Task method", Expect.PassedOn, false, r => Workers.Of<int>().Then(r.RecordTaskAsync)),
        new("Task method with token", Expect.PassedOn, true, r => Workers.Of<int>().Then(r.RecordTaskWithTokenAsync)),
        new("ValueTask method", Expect.PassedOn, false, r => Workers.Of<int>().Then(r.RecordValueTaskAsync)),
        new("ValueTask method with token", Expect.PassedOn, true, r => Workers.Of<int>().Then(r.RecordValueTaskWithTokenAsync)),
        new("IAsyncEnumerable method", Expect.Doubled, false, r => Workers.Of<int>().ThenMany(r.TwiceAsync)),
        new("IAsyncEnumerable method with token", Expect.Doubled, true, r => Workers.Of<int>().ThenMany(r.TwiceWithTokenAsync)),

        // ---- Lambdas ----
        new("sync value lambda", Expect.Plus1, false, r => Workers.Of<int>().Then(x => x + 1)),
        new("sync EmptyRst lambda with output type", Expect.KeptOdd, false, r => Workers.Of<int>().Then<int>(x => x % 2 == 0 ? JobQueue.EmptyRst : x)),
        new("sync EmptyRst lambda with return type", Expect.KeptOdd, false, r => Workers.Of<int>().Then(WorkerResult<int> (x) => x % 2 == 0 ? JobQueue.EmptyRst : x)),
        new("sync action lambda", Expect.PassedOn, false, r => Workers.Of<int>().Then(x => { r.Done[x] = true; })),
        new("sync sequence lambda", Expect.Doubled, false, r => Workers.Of<int>().ThenMany(x => new[] { x, x })),
        new("sync value lambda with token", Expect.Plus1, true, r => Workers.Of<int>().Then((x, ct) =>
        {
            r.Saw(ct);
            return x + 1;
        })),
        new("sync EmptyRst lambda with output type and token", Expect.KeptOdd, true, r => Workers.Of<int>().Then<int>((x, ct) =>
        {
            r.Saw(ct);
            return x % 2 == 0 ? JobQueue.EmptyRst : x;
        })),
        new("sync action lambda with token", Expect.PassedOn, true, r => Workers.Of<int>().Then((x, ct) =>
        {
            r.Saw(ct);
            r.Done[x] = true;
        })),
        new("sync sequence lambda with token", Expect.Doubled, true, r => Workers.Of<int>().ThenMany((x, ct) =>
        {
            r.Saw(ct);
            return new[] { x, x };
        })),
        new("Task<T> lambda", Expect.Plus1, false, r => Workers.Of<int>().Then(x => Task.FromResult(x + 1))),
        new("async Task<T> lambda", Expect.Plus1, false, r => Workers.Of<int>().Then(async x =>
        {
            await Task.Yield();
            return x + 1;
        })),
        new("async Task<T> lambda with token", Expect.Plus1, true, r => Workers.Of<int>().Then(async (x, ct) =>
        {
            r.Saw(ct);
            await Task.Yield();
            return x + 1;
        })),
        new("ValueTask<T> lambda", Expect.Plus1, false, r => Workers.Of<int>().Then(x => new ValueTask<int>(x + 1))),
        new("ValueTask<WorkerResult<T>> lambda", Expect.KeptOdd, false, r => Workers.Of<int>().Then(x => new ValueTask<WorkerResult<int>>(r.KeepOdd(x)))),
        new("async ValueTask<T> lambda", Expect.Plus1, false, r => Workers.Of<int>().Then(async ValueTask<int> (x) =>
        {
            await Task.Yield();
            return x + 1;
        })),
        new("async ValueTask<T> lambda with token", Expect.Plus1, true, r => Workers.Of<int>().Then(async ValueTask<int> (x, ct) =>
        {
            r.Saw(ct);
            await Task.Yield();
            return x + 1;
        })),
        new("async Task<WorkerResult<T>> lambda", Expect.KeptOdd, false, r => Workers.Of<int>().Then(async x =>
        {
            await Task.Yield();
            return x % 2 == 0 ? JobQueue.EmptyRst : new WorkerResult<int>(x);
        })),
        new("async EmptyRst lambda with output type and token", Expect.KeptOdd, true, r => Workers.Of<int>().Then<int>(async (x, ct) =>
        {
            r.Saw(ct);
            await Task.Yield();
            return x % 2 == 0 ? JobQueue.EmptyRst : x;
        })),
        new("async ValueTask<WorkerResult<T>> lambda", Expect.KeptOdd, false, r => Workers.Of<int>().Then(async ValueTask<WorkerResult<int>> (x) =>
        {
            await Task.Yield();
            return x % 2 == 0 ? JobQueue.EmptyRst : x;
        })),
        new("async ValueTask<WorkerResult<T>> lambda with token", Expect.KeptOdd, true, r => Workers.Of<int>().Then(async ValueTask<WorkerResult<int>> (x, ct) =>
        {
            r.Saw(ct);
            await Task.Yield();
            return x % 2 == 0 ? JobQueue.EmptyRst : x;
        })),
        new("async Task lambda", Expect.PassedOn, false, r => Workers.Of<int>().Then(async x =>
        {
            await Task.Yield();
            r.Done[x] = true;
        })),
        new("async Task lambda with token", Expect.PassedOn, true, r => Workers.Of<int>().Then(async (x, ct) =>
        {
            r.Saw(ct);
            await Task.Yield();
            r.Done[x] = true;
        })),
        new("async ValueTask lambda", Expect.PassedOn, false, r => Workers.Of<int>().Then(async ValueTask (x) =>
        {
            await Task.Yield();
            r.Done[x] = true;
        })),
        new("async ValueTask lambda with token", Expect.PassedOn, true, r => Workers.Of<int>().Then(async ValueTask (x, ct) =>
        {
            r.Saw(ct);
            await Task.Yield();
            r.Done[x] = true;
        })),
        new("Task lambda", Expect.PassedOn, false, r => Workers.Of<int>().Then(x => r.RecordTaskAsync(x))),
        new("Task lambda with token", Expect.PassedOn, true, r => Workers.Of<int>().Then((x, ct) => r.RecordTaskWithTokenAsync(x, ct))),
        new("ValueTask lambda", Expect.PassedOn, false, r => Workers.Of<int>().Then(x => r.RecordValueTaskAsync(x))),
        new("ValueTask lambda with token", Expect.PassedOn, true, r => Workers.Of<int>().Then((x, ct) => r.RecordValueTaskWithTokenAsync(x, ct))),
        new("IAsyncEnumerable lambda", Expect.Doubled, false, r => Workers.Of<int>().ThenMany(x => r.TwiceAsync(x))),
        new("IAsyncEnumerable lambda with token", Expect.Doubled, true, r => Workers.Of<int>().ThenMany((x, ct) => r.TwiceWithTokenAsync(x, ct))),
    ];

    private enum Expect
    {
        /// <summary>Each item's value plus one is passed on.</summary>
        Plus1,

        /// <summary>Even items are dropped by <c>EmptyRst</c>; odd ones are passed on.</summary>
        KeptOdd,

        /// <summary>Each item is passed on unchanged, once the call on it has finished.</summary>
        PassedOn,

        /// <summary>Each item is passed on twice, as two elements of a sequence.</summary>
        Doubled,
    }

    /// <summary>Gets the name of every shape, one test case each.</summary>
    public static IEnumerable<object[]> ShapeNames => Shapes.Select(s => new object[] { s.Name });

    [TestMethod]
    [DynamicData(nameof(ShapeNames))]
    public async Task Run_EachWorkerShape_NextStageReceivesWhatTheShapeMeans(string name)
    {
        var (shape, recorder) = Start(name);

        var result = await Bounded.RunBlocking(() => JobQueue.Run(Input, shape.Build(recorder).Then(recorder.Receive), keepOrder: true));

        Assert.IsTrue(result.Completed);
        AssertReceived(shape, recorder);
    }

    [TestMethod]
    [DynamicData(nameof(ShapeNames))]
    public async Task JobManagerCreate_EachWorkerShape_NextStageReceivesWhatTheShapeMeans(string name)
    {
        var (shape, recorder) = Start(name);
        await using var manager = JobManager.Create(shape.Build(recorder).Then(recorder.Receive), keepOrder: true);

        foreach (var item in Input)
        {
            await manager.PutAsync(item).AsTask().Within();
        }

        Assert.IsTrue(await manager.JoinAsync().Within());
        AssertReceived(shape, recorder);
    }

    [TestMethod]
    [DynamicData(nameof(ShapeNames))]
    public async Task CreateBlock_EachWorkerShape_NextStageAndBlockOutputReceiveWhatTheShapeMeans(string name)
    {
        var (shape, recorder) = Start(name);
        var block = JobQueue.CreateBlock(shape.Build(recorder).Then(recorder.Receive), new JobOptions { KeepOrder = true });
        var output = new CollectingTarget<int>();
        block.LinkTo(output, new DataflowLinkOptions { PropagateCompletion = true });

        foreach (var item in Input)
        {
            Assert.IsTrue(await block.SendAsync(item).Within());
        }

        block.Complete();
        await output.Completion.Within();
        await block.Completion.Within();

        AssertReceived(shape, recorder);
        CollectionAssert.AreEqual(recorder.Received.ToArray(), output.Items.ToArray(), "the block passes on what its last stage received");
    }

    private static (Shape Shape, Recorder Recorder) Start(string name) => (Shapes.Single(s => s.Name == name), new Recorder());

    private static void AssertReceived(Shape shape, Recorder recorder)
    {
        int[] expected = shape.Expect switch
        {
            Expect.Plus1 => [.. Input.Select(x => x + 1)],
            Expect.KeptOdd => [.. Input.Where(x => x % 2 != 0)],
            Expect.PassedOn => Input,
            Expect.Doubled => [.. Input.SelectMany(x => new[] { x, x })],
            _ => throw new ArgumentOutOfRangeException(nameof(shape)),
        };

        CollectionAssert.AreEqual(expected, recorder.Received.ToArray(), shape.Name);
        if (shape.Expect == Expect.PassedOn)
        {
            Assert.IsEmpty(recorder.ReceivedBeforeDone, $"{shape.Name}: items reached the next stage before the call on them had finished");
        }

        if (shape.TakesToken)
        {
            Assert.IsNotEmpty(recorder.Tokens, $"{shape.Name}: the worker saw no token");
            Assert.IsTrue(recorder.Tokens.All(live => live), $"{shape.Name}: the worker must receive the run's token, not CancellationToken.None");
        }
    }

    /// <summary>One worker shape: its name, what the next stage must receive, whether it takes a token, and how to build it.</summary>
    private sealed record Shape(string Name, Expect Expect, bool TakesToken, Func<Recorder, Workers<int, int>> Build);

    /// <summary>The workers of the method-group shapes, and what the last stage received.</summary>
    private sealed class Recorder
    {
        /// <summary>Gets the items whose pass-through call has finished.</summary>
        public ConcurrentDictionary<int, bool> Done { get; } = new();

        /// <summary>Gets what the last stage received, in order.</summary>
        public ConcurrentQueue<int> Received { get; } = new();

        /// <summary>Gets the items the last stage received before the call on them had finished.</summary>
        public ConcurrentQueue<int> ReceivedBeforeDone { get; } = new();

        /// <summary>Gets, for each call that took a token, whether that token could be cancelled.</summary>
        public ConcurrentQueue<bool> Tokens { get; } = new();

        public void Receive(int x)
        {
            if (!Done.ContainsKey(x))
            {
                ReceivedBeforeDone.Enqueue(x);
            }

            Received.Enqueue(x);
        }

        public void Saw(CancellationToken ct) => Tokens.Enqueue(ct.CanBeCanceled);

        public int Add1(int x) => x + 1;

        public WorkerResult<int> KeepOdd(int x) => x % 2 == 0 ? JobQueue.EmptyRst : x;

        public void Record(int x) => Done[x] = true;

        public int Add1WithToken(int x, CancellationToken ct)
        {
            Saw(ct);
            return x + 1;
        }

        public void RecordWithToken(int x, CancellationToken ct)
        {
            Saw(ct);
            Done[x] = true;
        }

        public IEnumerable<int> TwiceWithToken(int x, CancellationToken ct)
        {
            Saw(ct);
            return [x, x];
        }

        /// <summary>A method group with both forms, as <c>BlockingCollection.Add</c>: binds to the one without a token.</summary>
        public void RecordEitherWay(int x) => Done[x] = true;

        /// <summary>The form with a token of <see cref="RecordEitherWay(int)"/>; never called.</summary>
        public void RecordEitherWay(int x, CancellationToken ct) => throw new AssertFailedException("the form with a token was chosen");

        public IEnumerable<int> Twice(int x)
        {
            yield return x;
            yield return x;
        }

        public async Task<int> Add1TaskAsync(int x)
        {
            await Task.Yield();
            return x + 1;
        }

        public async Task<int> Add1TaskWithTokenAsync(int x, CancellationToken ct)
        {
            Saw(ct);
            await Task.Yield();
            return x + 1;
        }

        public async ValueTask<int> Add1ValueTaskAsync(int x)
        {
            await Task.Yield();
            return x + 1;
        }

        public async ValueTask<int> Add1ValueTaskWithTokenAsync(int x, CancellationToken ct)
        {
            Saw(ct);
            await Task.Yield();
            return x + 1;
        }

        public async Task<WorkerResult<int>> KeepOddTaskAsync(int x)
        {
            await Task.Yield();
            return KeepOdd(x);
        }

        public async Task<WorkerResult<int>> KeepOddTaskWithTokenAsync(int x, CancellationToken ct)
        {
            Saw(ct);
            await Task.Yield();
            return KeepOdd(x);
        }

        public async ValueTask<WorkerResult<int>> KeepOddValueTaskAsync(int x)
        {
            await Task.Yield();
            return KeepOdd(x);
        }

        public async ValueTask<WorkerResult<int>> KeepOddValueTaskWithTokenAsync(int x, CancellationToken ct)
        {
            Saw(ct);
            await Task.Yield();
            return KeepOdd(x);
        }

        public async Task RecordTaskAsync(int x)
        {
            await Task.Yield();
            Done[x] = true;
        }

        public async Task RecordTaskWithTokenAsync(int x, CancellationToken ct)
        {
            Saw(ct);
            await Task.Yield();
            Done[x] = true;
        }

        public async ValueTask RecordValueTaskAsync(int x)
        {
            await Task.Yield();
            Done[x] = true;
        }

        public async ValueTask RecordValueTaskWithTokenAsync(int x, CancellationToken ct)
        {
            Saw(ct);
            await Task.Yield();
            Done[x] = true;
        }

        public async IAsyncEnumerable<int> TwiceAsync(int x)
        {
            await Task.Yield();
            yield return x;
            yield return x;
        }

        public async IAsyncEnumerable<int> TwiceWithTokenAsync(int x, [EnumeratorCancellation] CancellationToken ct)
        {
            Saw(ct);
            await Task.Yield();
            yield return x;
            yield return x;
        }
    }
}
