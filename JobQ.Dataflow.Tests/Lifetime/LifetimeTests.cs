using System.Runtime.CompilerServices;
using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace JobQ.Dataflow.Tests.Lifetime;

/// <summary>
/// Nothing of the library keeps a pipeline alive once its owner is done with it or has dropped it: in a long-lived
/// process (a server), what grows must be bounded by what is in use, never by how often the library was used. Each
/// test drops a pipeline whose worker holds a payload, then checks that a collection takes the payload.
/// </summary>
[TestClass]
public sealed class LifetimeTests
{
    private static readonly JobOptions Quiet = new() { Logger = NullLogger.Instance };

    [TestMethod]
    public void CreateBlock_CompletedUnderATokenThatLivesOn_IsNotKeptAliveByTheToken()
    {
        // Dataflow's own blocks let go of their token's registration when they complete.
        using var cts = new CancellationTokenSource();

        var payload = UseABlock(cts.Token);

        AssertCollected(payload, "the completed block's worker");
        Assert.IsFalse(cts.IsCancellationRequested);
    }

    [TestMethod]
    public void CreateBlock_DroppedWithoutComplete_IsCollected()
    {
        var payload = DropABlock();

        AssertCollected(payload, "the dropped block's worker");
    }

    [TestMethod]
    public void JobManager_DroppedWithoutJoinOrDispose_IsCollected()
    {
        var payload = DropAManager();

        AssertCollected(payload, "the dropped manager's worker");
    }

    [TestMethod]
    public void Run_ReturnedFromASyncStageOfSeveralThreads_ItsIdleThreadsDoNotKeepItsWorkerAlive()
    {
        // The stage's dedicated threads outlive the run, idle for a while in case another run wants them; what they
        // ran must not stay reachable from them.
        var payload = RunASyncStage();

        AssertCollected(payload, "the finished run's worker");
    }

    /// <remarks>Not async: an async method's state would hold the payload and the block beyond this call.</remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference UseABlock(CancellationToken token)
    {
        var payload = new byte[1024];
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(async x => { await Task.Yield(); return x + payload.Length; }), Quiet, token);
        for (var i = 0; i < 20; i++)
        {
            Assert.IsTrue(block.Post(i));
        }

        block.Complete();
        for (var i = 0; i < 20; i++)
        {
            block.Receive(Bounded.Limit);
        }

        Assert.IsTrue(block.Completion.Wait(Bounded.Limit));
        return new WeakReference(payload);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference DropABlock()
    {
        var payload = new byte[1024];
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(async x => { await Task.Yield(); return x + payload.Length; }), Quiet);
        Assert.IsTrue(block.Post(1));
        return new WeakReference(payload);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference DropAManager()
    {
        var payload = new byte[1024];
        var manager = JobManager.Create(Workers.Of<int>().Then(async x => { await Task.Yield(); return x + payload.Length; }), Quiet);
        manager.Put(1);
        return new WeakReference(payload);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference RunASyncStage()
    {
        var payload = new byte[1024];
        // Calls of 50 µs are slow enough to stay on the stage's dedicated threads.
        var result = JobQueue.Run(Enumerable.Range(0, 40), Workers.Of<int>().Then(x => Work(x) + payload.Length, threads: 4), Quiet);
        Assert.IsTrue(result.Completed);
        return new WeakReference(payload);
    }

    private static int Work(int x)
    {
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        while (System.Diagnostics.Stopwatch.GetElapsedTime(start) < TimeSpan.FromMicroseconds(50))
        {
        }

        return x;
    }

    /// <summary>Collects until the payload is gone, within 5 s: less than the 10 s a dedicated thread stays idle, so
    /// that an idle thread holding it fails the test.</summary>
    private static void AssertCollected(WeakReference payload, string what)
        => Assert.IsTrue(
            Bounded.TryUntil(
                () =>
                {
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    GC.Collect();
                    return !payload.IsAlive;
                },
                TimeSpan.FromSeconds(5)),
            $"{what} was not collected");
}
