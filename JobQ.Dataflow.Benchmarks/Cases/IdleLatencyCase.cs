using System.Diagnostics;
using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// The latency of one item through an idle 3-stage pipeline (add1 -> multi2 -> a probe): from just before Put (a
/// JobManager) or Post (a JobQueue.CreateBlock block, or the first of 3 per-item Dataflow blocks) to the moment the
/// last stage's worker sees the item. All three pipelines are built and warmed first, then sampled in turn, one item
/// at a time, with 5 ms of pause before each item so every stage has gone idle. Target: ours at most 2.5x the
/// Dataflow baseline's latency.
/// </summary>
internal sealed class IdleLatencyCase : IQuickCase
{
    private const int Samples = 200;
    private const int WarmUpItems = 20;
    private const double Target = 2.5;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    /// <inheritdoc/>
    public string Name => "latency";

    /// <inheritdoc/>
    public IEnumerable<Row> Run(QuickSettings settings)
    {
        var samples = Math.Max(5, settings.Size(Samples));
        using var managerProbe = new LatencyProbe();
        using var blockProbe = new LatencyProbe();
        using var dataflowProbe = new LatencyProbe();

        var manager = JobManager.Create(Workers.Of<int>().Then(Chains.Add1).Then(Chains.Multi2).Then(managerProbe.Reached));
        var block = JobQueue.CreateBlock(Workers.Of<int>().Then(Chains.Add1).Then(Chains.Multi2).Then(blockProbe.Reached));
        block.LinkTo(DataflowBlock.NullTarget<int>(), new DataflowLinkOptions { PropagateCompletion = true });
        var link = new DataflowLinkOptions { PropagateCompletion = true };
        var add1 = new TransformBlock<int, int>(Chains.Add1, Chains.Options(1, ordered: false));
        var multi2 = new TransformBlock<int, int>(Chains.Multi2, Chains.Options(1, ordered: false));
        var last = new ActionBlock<int>(dataflowProbe.Reached, Chains.Options(1, ordered: false));
        add1.LinkTo(multi2, link);
        multi2.LinkTo(last, link);

        var sides = new (LatencyProbe Probe, Action<int> Put)[]
        {
            (managerProbe, manager.Put),
            (blockProbe, x => PostOrThrow(block, x)),
            (dataflowProbe, x => PostOrThrow(add1, x)),
        };
        var latencies = sides.Select(_ => new List<double>()).ToArray();
        try
        {
            for (var i = -WarmUpItems; i < samples; i++)
            {
                for (var s = 0; s < sides.Length; s++)
                {
                    var latency = sides[s].Probe.Sample(sides[s].Put, i);
                    if (i >= 0)
                    {
                        latencies[s].Add(latency);
                    }
                }
            }
        }
        finally
        {
            block.Complete();
            add1.Complete();
            var done = manager.Join(Bound) & block.Completion.Wait(Bound) & last.Completion.Wait(Bound);
            manager.Dispose();
            if (!done)
            {
                throw new TimeoutException("A latency pipeline did not complete.");
            }
        }

        double ofManager = Measure.Median(latencies[0]), ofBlock = Measure.Median(latencies[1]), ofDataflow = Measure.Median(latencies[2]);
        Console.Error.WriteLine($"      JobManager, CreateBlock, Dataflow medians: {Measure.Time(ofManager)}, {Measure.Time(ofBlock)}, {Measure.Time(ofDataflow)}");
        yield return Row("JobManager (Put)", ofManager, ofDataflow, samples);
        yield return Row("JobQueue.CreateBlock block (Post)", ofBlock, ofDataflow, samples);
    }

    private static Row Row(string pipeline, double ours, double dataflow, int samples) => new(
        $"One item through an idle 3-stage {pipeline}, until the last stage sees it (latency, median of {samples}; Dataflow: Post into 3 idle per-item blocks)",
        Measure.Time(ours),
        $"Dataflow {Measure.Time(dataflow)}",
        $"ours / baseline {Measure.Ratio(ours / dataflow)}",
        Measure.Invariant($"ours <= {Target:0.0}x Dataflow's latency"),
        Measure.Met(ours <= Target * dataflow));

    private static void PostOrThrow(ITargetBlock<int> target, int x)
    {
        if (!target.Post(x))
        {
            throw new InvalidOperationException("An idle block declined an item.");
        }
    }

    /// <summary>The last stage of one latency pipeline: records when an item arrives and wakes the sampler.</summary>
    private sealed class LatencyProbe : IDisposable
    {
        private readonly ManualResetEventSlim _reached = new(false);
        private long _reachedAt;

        /// <summary>The last stage's worker.</summary>
        /// <param name="x">The item.</param>
        public void Reached(int x)
        {
            Volatile.Write(ref _reachedAt, Stopwatch.GetTimestamp());
            _reached.Set();
        }

        /// <summary>Pauses 5 ms, puts one item and returns the seconds until the last stage saw it.</summary>
        /// <param name="put">Puts the item into the pipeline.</param>
        /// <param name="item">The item.</param>
        /// <returns>Seconds.</returns>
        public double Sample(Action<int> put, int item)
        {
            Thread.Sleep(5); // workload pacing, not synchronisation: lets every stage go idle before the item
            _reached.Reset();
            var start = Stopwatch.GetTimestamp();
            put(item);
            if (!_reached.Wait(Bound))
            {
                throw new TimeoutException("The item never reached the last stage.");
            }

            return Stopwatch.GetElapsedTime(start, Volatile.Read(ref _reachedAt)).TotalSeconds;
        }

        /// <summary>Releases the event.</summary>
        public void Dispose() => _reached.Dispose();
    }
}
