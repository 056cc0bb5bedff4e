using System.Diagnostics;
using JobQ.Dataflow.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace JobQ.Dataflow.Tests.Pipeline;

/// <summary>
/// User code that leaves its thread interrupted (<see cref="Thread.Interrupt"/>) and returns: the interrupt would surface
/// at the next blocking wait on that thread, which may be the library's own (a contended lock, a wait for room) or
/// another item's call. It must neither fault the run nor fail another item.
/// </summary>
/// <remarks>Where the interrupt lands depends on lock contention, so the cheap cases run several rounds.</remarks>
[TestClass]
public sealed class ThreadInterruptTests
{
    private const int Rounds = 10;

    private static JobOptions Quiet(bool keepOrder = false, int queueSize = 1024)
        => new() { Logger = NullLogger.Instance, KeepOrder = keepOrder, QueueSize = queueSize };

    private static int Interrupting(int x)
    {
        Thread.CurrentThread.Interrupt();
        return x;
    }

    /// <summary>Runs 2,000 items through <paramref name="stage"/> and a counting stage, <see cref="Rounds"/> times: each
    /// round completes, with every item counted and no failure.</summary>
    private static async Task AssertEveryItemPassesOn(Workers<int, int> stage, bool keepOrder = false)
    {
        for (var round = 0; round < Rounds; round++)
        {
            var seen = 0;
            var result = await JobQueue.RunAsync(Enumerable.Range(0, 2000), stage.Then(x => { Interlocked.Increment(ref seen); }), Quiet(keepOrder)).Within();

            Assert.IsTrue(result.Completed, $"round {round}");
            Assert.AreEqual(2000, seen, $"round {round}");
            Assert.AreEqual(0, result.Stats.Stages.Sum(stage => stage.Failed), $"round {round}");
        }
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task RunAsync_CheapWorkerInterruptsEveryCall_EveryItemPassesOnAndNothingFails(bool keepOrder)
        => await AssertEveryItemPassesOn(Workers.Of<int>().Then(Interrupting, threads: 4), keepOrder);

    [TestMethod]
    public async Task RunAsync_SlowWorkerLeavesItsThreadInterrupted_TheNextCallsBlockingWaitIsNotInterrupted()
    {
        // Every call takes 50 µs of work, so the stage is measured slow; odd items block briefly, which an interrupt
        // left by the even item before them would break.
        static int Work(int x)
        {
            var start = Stopwatch.GetTimestamp();
            while (Stopwatch.GetElapsedTime(start) < TimeSpan.FromMicroseconds(50))
            {
            }

            if (x % 2 == 0)
            {
                Thread.CurrentThread.Interrupt();
            }
            else
            {
                Thread.Sleep(0);
            }

            return x;
        }

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 200), Workers.Of<int>().Then(Work), Quiet()).Within();

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(0, result.Stats.Stages[0].Failed);
        Assert.AreEqual(200, result.Stats.Stages[0].Out);
    }

    /// <remarks>Only the part of an async call that runs on the stage's thread (before its first await) is covered: code
    /// after an await runs on whichever pool thread completes it, which may go back to the pool with the interrupt
    /// before the stage's code runs there again.</remarks>
    [TestMethod]
    public async Task RunAsync_AsyncWorkerInterruptsItsThreadBeforeItsFirstAwait_EveryItemPassesOnAndNothingFails()
        => await AssertEveryItemPassesOn(Workers.Of<int>().Then(
            async x =>
            {
                Thread.CurrentThread.Interrupt();
                if (x % 3 == 0)
                {
                    await Task.Yield();
                }

                return x;
            },
            threads: 4));

    [TestMethod]
    public async Task RunAsync_GeneratorInterruptsBeforeEachOutputWhileTheNextQueueIsFull_EveryOutputPassesOn()
    {
        static IEnumerable<int> Expand(int x)
        {
            for (var i = 0; i < 20; i++)
            {
                Thread.CurrentThread.Interrupt();
                yield return (x * 20) + i;
            }
        }

        var seen = 0;
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new Probe();
        var options = Quiet(queueSize: 4);
        options.Probe = probe;

        // The last stage holds its first item until the generator has filled the small queue before it, so the
        // generator waits for room with an interrupt pending.
        var run = JobQueue.RunAsync(
            Enumerable.Range(0, 10),
            Workers.Of<int>().ThenMany(Expand).Then(x =>
            {
                if (x == 0)
                {
                    gate.Task.Wait(Bounded.Limit);
                }

                Interlocked.Increment(ref seen);
            }),
            options);
        Bounded.Until(() => JobQueue.Stat(probe).Stages is [_, { Input.Size: 4 }], "the last stage's queue is full");
        gate.SetResult();
        var result = await run.Within();

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(200, seen);
        Assert.AreEqual(0, result.Stats.Stages.Sum(stage => stage.Failed));
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task RunAsync_DispatcherStageAndDispatcherInterruptTheirThreads_EveryItemPassesOnAndNothingFails(bool keepOrder)
    {
        static int Route(int x)
        {
            Thread.CurrentThread.Interrupt();
            return x;
        }

        await AssertEveryItemPassesOn(Workers.Of<int>().Then(Interrupting, threads: 3, dispatcher: Route), keepOrder);
    }

    [TestMethod]
    public async Task RunAsync_InputInterruptsItsThreadOnEveryItemWhileTheQueueIsFull_EveryItemIsReadAndPassesOn()
    {
        static IEnumerable<int> Input()
        {
            for (var i = 0; i < 500; i++)
            {
                Thread.CurrentThread.Interrupt();
                yield return i;
            }
        }

        var seen = 0;
        var result = await JobQueue.RunAsync(Input(), Workers.Of<int>().Then(x => { Interlocked.Increment(ref seen); }), Quiet(queueSize: 2)).Within();

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(500, seen);
    }
}
