using System.Collections;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Pipeline;

/// <summary>
/// Backpressure: every queue is bounded, so a slow last stage holds the input back. The input is never read further
/// ahead of the last stage than the queues (each may be overfilled by the runs that were in progress when it filled, as
/// jobq's workers hold their result while a queue is full), the runs in progress and the input reader's run in hand.
/// </summary>
[TestClass]
public sealed class BackpressureTests
{
    /// <summary>The most items one message carries into a stage of <paramref name="threads"/> threads.</summary>
    private static int MaxRun(int queueSize, int threads) => Internal.RunLength.MaxFor(queueSize, threads);

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

        // The first queue: its capacity, overfilled by at most the input reader's run, plus that run in hand. The middle
        // stage: its runs in progress, which may also overfill the last stage's queue. The last stage: the run holding
        // the held call. Under keepOrder, the middle stage's coordinator holds up to a queue more.
        var first = MaxRun(queueSize, middleThreads);
        var last = MaxRun(queueSize, 1);
        var bound = (queueSize + (2 * first)) + (middleThreads * first) + (queueSize + (middleThreads * first)) + last + (keepOrder ? queueSize : 0);

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

        // Both stages' queues, each overfilled by the runs in progress when it filled; routed items count in the
        // dispatcher stage's queue until their partition starts them; each partition's run in progress, and the partition
        // outputs the merge holds until their turn.
        var partitionRun = MaxRun(queueSize, partitions);
        var bound = (2 * (queueSize + (2 * partitionRun))) + (partitions * partitionRun) + (partitions * queueSize) + MaxRun(queueSize, 1);

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

        Assert.IsLessThanOrEqualTo(queueSize + (3 * MaxRun(queueSize, 1)), readWhileHeld);
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
