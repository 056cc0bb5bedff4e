using System.Collections;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Pipeline;

/// <summary>
/// Backpressure: every queue is bounded, so a slow last stage holds the input back. The input is never read
/// further ahead of the last stage than the queues, the items in workers' hands, one run per lane and the
/// feeder's one item in hand can hold.
/// </summary>
[TestClass]
public sealed class BackpressureTests
{
    /// <summary>The most items a lane takes or passes on at once (the library's run size for a queue size).</summary>
    private static int MaxRun(int queueSize) => Math.Clamp(queueSize / 4, 1, 256);

    [TestMethod]
    [DataRow(1, false)]
    [DataRow(8, false)]
    [DataRow(8, true)]
    [DataRow(1024, false)]
    [DataRow(1024, true)]
    public async Task Run_LastStageHeld_InputReadAtMostWhatTheQueuesHoldAhead(int queueSize, bool keepOrder)
    {
        const int middleThreads = 2;
        var total = (queueSize * 5) + 50;
        using var gate = new Gate();
        var input = new AheadTrackingInput(total);
        var probe = new Probe();
        long sum = 0;
        var lastCalls = 0;
        var workers = Workers.Of<int>()
            .Then(x => x, threads: middleThreads)
            .Then(x =>
            {
                // The last stage's first call is held, whichever item it is (without keepOrder, any may come first).
                if (Interlocked.Increment(ref lastCalls) == 1)
                {
                    gate.Pass();
                }

                Interlocked.Add(ref sum, x);
                input.Consumed();
            });

        // Queues: two stage inputs, plus the middle stage's coordinator under keepOrder (the last stage passes nothing on).
        var queues = (2 * queueSize) + (keepOrder ? queueSize : 0);
        var lanes = middleThreads + 1;
        var bound = queues + 1 /* held in the last worker */ + (lanes * MaxRun(queueSize)) + 1 /* the feeder's item in hand */;

        var run = JobQueue.RunAsync(input, workers, new JobOptions { QueueSize = queueSize, KeepOrder = keepOrder, Probe = probe });
        gate.WaitArrivals(1);
        Bounded.Until(
            () =>
            {
                var stages = JobQueue.Stat(probe).Stages;
                return stages[0].Input.Size == queueSize && stages[1].Input.Size == queueSize;
            },
            "both stage queues to fill while the last stage is held",
            () => Describe(JobQueue.Stat(probe), input.Read));
        var aheadWhileHeld = input.Ahead;

        Assert.IsLessThanOrEqualTo(bound, aheadWhileHeld, $"read {aheadWhileHeld} items ahead of the held last stage; bound {bound}");
        Assert.IsGreaterThanOrEqualTo(2 * queueSize, aheadWhileHeld, "the queues should be used to their capacity");

        gate.Open();
        var result = await run.Within();

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(total, input.Read);
        Assert.AreEqual((long)total * (total - 1) / 2, Interlocked.Read(ref sum));
        Assert.IsLessThanOrEqualTo(bound, input.MaxAhead, $"the input ran {input.MaxAhead} items ahead of the last stage; bound {bound}");
    }

    [TestMethod]
    public async Task Run_DispatcherStageBeforeHeldStage_InputHeldBackToo()
    {
        const int queueSize = 8;
        const int partitions = 2;
        var total = 200;
        using var gate = new Gate();
        var input = new AheadTrackingInput(total);
        var probe = new Probe();
        var workers = Workers.Of<int>()
            .Then(x => x, threads: partitions, dispatcher: x => x)
            .Then(x =>
            {
                if (x == 0)
                {
                    gate.Pass();
                }

                input.Consumed();
            });

        // Queues: both stage inputs and each partition's input and output; lanes: the partitions, the router,
        // the merger and the last stage, each with one run in hand.
        var queues = (2 * queueSize) + (partitions * 2 * queueSize);
        var lanes = partitions + 3;
        var bound = queues + 1 + (lanes * MaxRun(queueSize)) + 1;

        var run = JobQueue.RunAsync(input, workers, new JobOptions { QueueSize = queueSize, Probe = probe });
        gate.WaitArrivals(1);
        Bounded.Until(
            () =>
            {
                var stages = JobQueue.Stat(probe).Stages;
                return stages[0].Input.Size == queueSize && stages[1].Input.Size == queueSize;
            },
            "both stage queues to fill while the last stage is held",
            () => Describe(JobQueue.Stat(probe), input.Read));
        var aheadWhileHeld = input.Ahead;
        var readWhileHeld = input.Read;
        gate.Open();
        var result = await run.Within();

        Assert.IsLessThanOrEqualTo(bound, aheadWhileHeld, $"read {aheadWhileHeld} items ahead of the held last stage; bound {bound}");
        Assert.IsLessThan(total, readWhileHeld);
        Assert.IsTrue(result.Completed);
        Assert.AreEqual(total, input.Read);
        Assert.IsLessThanOrEqualTo(bound, input.MaxAhead);
    }

    [TestMethod]
    public async Task RunAsync_AsyncInputWithHeldStage_ReadLazily()
    {
        const int queueSize = 4;
        var read = 0;
        async IAsyncEnumerable<int> Input()
        {
            for (var i = 0; i < 1000; i++)
            {
                await Task.Yield();
                Interlocked.Increment(ref read);
                yield return i;
            }
        }

        using var gate = new Gate();
        var probe = new Probe();
        var workers = Workers.Of<int>().Then(x =>
        {
            if (x == 0)
            {
                gate.Pass();
            }
        });

        var run = JobQueue.RunAsync(Input(), workers, new JobOptions { QueueSize = queueSize, Probe = probe });
        gate.WaitArrivals(1);
        Bounded.Until(() => JobQueue.Stat(probe).Stages[0].Input.Size == queueSize, "the queue to fill");
        var readWhileHeld = Volatile.Read(ref read);
        gate.Open();
        await run.Within();

        Assert.IsLessThanOrEqualTo(queueSize + 1 + MaxRun(queueSize) + 1, readWhileHeld);
        Assert.AreEqual(1000, Volatile.Read(ref read));
    }

    private static string Describe(JobStats stats, int read)
        => $"read {read}; " + string.Join("; ", stats.Stages.Select((s, i) =>
            $"stage {i}: input {s.Input.Size}/{s.Input.Capacity}, in {s.In}, out {s.Out}, doing {s.Doing}, workers {s.WorkerCount}, coordinator {s.Coordinator?.Size}"));

    /// <summary>Input 0..count-1 that records how far reading ever got ahead of the items the last stage finished.</summary>
    private sealed class AheadTrackingInput(int count) : IEnumerable<int>
    {
        private int _read;
        private int _consumed;
        private int _maxAhead;

        public int Read => Volatile.Read(ref _read);

        /// <summary>Gets how many items were read but not yet finished by the last stage.</summary>
        public int Ahead => Volatile.Read(ref _read) - Volatile.Read(ref _consumed);

        public int MaxAhead => Volatile.Read(ref _maxAhead);

        public void Consumed() => Interlocked.Increment(ref _consumed);

        public IEnumerator<int> GetEnumerator()
        {
            for (var i = 0; i < count; i++)
            {
                var ahead = Interlocked.Increment(ref _read) - Volatile.Read(ref _consumed);
                if (ahead > _maxAhead)
                {
                    Volatile.Write(ref _maxAhead, ahead);
                }

                yield return i;
            }
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
