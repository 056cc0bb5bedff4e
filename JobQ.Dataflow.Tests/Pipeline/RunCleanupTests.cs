using System.Collections.Concurrent;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Pipeline;

/// <summary>
/// Nothing is left running after Run returns: sync worker threads and the input thread are done (exited, or idle
/// until a next run reuses them), except a call still inside user code after a timeout, whose thread is done as soon
/// as the call returns.
/// </summary>
[TestClass]
public sealed class RunCleanupTests
{
    [TestMethod]
    public async Task Run_Completed_WorkerAndInputThreadsExit()
    {
        var threads = new ConcurrentDictionary<int, Thread>();
        IEnumerable<int> Input()
        {
            threads.TryAdd(Environment.CurrentManagedThreadId, Thread.CurrentThread);
            for (var i = 0; i < 100; i++)
            {
                yield return i;
            }
        }

        int Record(int x)
        {
            threads.TryAdd(Environment.CurrentManagedThreadId, Thread.CurrentThread);
            return x;
        }

        var workers = Workers.Of<int>().Then(Record, threads: 3).Then(Record, threads: 2, dispatcher: x => x).Then(Record);

        var result = await Bounded.RunBlocking(() => JobQueue.Run(Input(), workers));

        Assert.IsTrue(result.Completed);
        Assert.IsGreaterThanOrEqualTo(2, threads.Count);
        Bounded.Until(() => threads.Values.All(LaneThreads.IsDone), "every worker and input thread to be done (exited or idle) after Run returned");
    }

    [TestMethod]
    public async Task Run_TimedOutWithCallInUserCode_ThatThreadExitsOnceTheCallReturns()
    {
        using var gate = new Gate();
        Thread? held = null;
        var others = new ConcurrentBag<Thread>();
        var workers = Workers.Of<int>()
            .Then(x =>
            {
                if (x == 0)
                {
                    held = Thread.CurrentThread;
                    gate.Pass();
                }
                else
                {
                    others.Add(Thread.CurrentThread);
                }

                return x;
            }, threads: 2)
            .Then(x => x);

        var clock = new SignallingTimeProvider();
        var run = JobQueue.RunAsync(Enumerable.Range(0, 1000), workers, new JobOptions { Timeout = TimeSpan.FromSeconds(1), TimeProvider = clock, QueueSize = 4 });
        gate.WaitArrivals(1);
        clock.Advance(TimeSpan.FromSeconds(1));
        var result = await run.Within();

        Assert.IsTrue(result.TimedOut);
        Assert.IsNotNull(held);
        Assert.IsFalse(LaneThreads.IsDone(held), "the held call is still inside user code");
        Bounded.Until(() => others.All(t => t == held || LaneThreads.IsDone(t)), "the idle lanes' threads to be done after the timeout");

        gate.Open();
        Bounded.Until(() => LaneThreads.IsDone(held), "the held lane's thread to be done once its call returned");
    }
}
