using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// A dispatcher stage with 4 partitions on trivial work (64 keys). Every run checks that each key's items reached
/// the worker in input order, and (ours) that the stage's output is in input order; a broken order throws.
/// </summary>
[MemoryDiagnoser]
public class DispatcherBenchmarks
{
    private const int N = 1_000_000;
    private const int Partitions = 4;

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public long Dataflow() => RunDataflow(N).GetAwaiter().GetResult();

    [Benchmark(OperationsPerInvoke = N)]
    public long Ours() => RunOurs(N);

    internal static IEnumerable<Row> Quick()
    {
        RunOurs(100_000);
        RunDataflow(100_000).GetAwaiter().GetResult();
        var (ours, baseline) = Measure.Alternate(
            QuickRunner.Repetitions,
            () => Measure.Seconds(() => RunOurs(N)),
            () => Measure.Seconds(() => RunDataflow(N).GetAwaiter().GetResult()));
        yield return new Row(
            "1M items, dispatcher stage 4 partitions, trivial work, per-key order checked (items/s; Dataflow: 4 hand-routed blocks, output unordered)",
            Measure.Rate(N / ours),
            Measure.Rate(N / baseline),
            Measure.Ratio(baseline / ours),
            ">= 5 M/s",
            Measure.Met(N / ours >= 5e6));

        if (ProcessUsage.Available)
        {
            var oursUsage = Usage(() => RunOurs(N));
            var baselineUsage = Usage(() => RunDataflow(N).GetAwaiter().GetResult());
            yield return new Row(
                "Breakdown, dispatcher: CPU time (user + sys, all threads) per item; context switches per 1000 items, voluntary (parks) / involuntary (preempted) (one run)",
                $"{Measure.Ns(oursUsage.Cpu / N)}; {oursUsage.Voluntary * 1000.0 / N:F1} / {oursUsage.Involuntary * 1000.0 / N:F1}",
                $"{Measure.Ns(baselineUsage.Cpu / N)}; {baselineUsage.Voluntary * 1000.0 / N:F1} / {baselineUsage.Involuntary * 1000.0 / N:F1}",
                Measure.Ratio(baselineUsage.Cpu / oursUsage.Cpu),
                "-",
                "-");
        }
    }

    private static (double Cpu, long Voluntary, long Involuntary) Usage(Action run) => ProcessUsage.Measure(run);

    private static long RunOurs(int n)
    {
        var keys = new KeyOrderChecker();
        var sink = new OrderChecker();
        var workers = Workers.Of<int>().Then(keys.Work, Partitions, KeyOrderChecker.Key).Then(sink.Add);
        if (!JobQueue.Run(Enumerable.Range(0, n), workers).Completed)
        {
            throw new InvalidOperationException("Run did not complete.");
        }

        keys.ThrowIfBroken();
        return sink.Finish(n);
    }

    private static async Task<long> RunDataflow(int n)
    {
        var keys = new KeyOrderChecker();
        var sum = new Summer();
        var last = new ActionBlock<int>(sum.Add, Chains.Options(1, ordered: false));
        var partitions = new TransformBlock<int, int>[Partitions];
        for (var p = 0; p < Partitions; p++)
        {
            partitions[p] = new TransformBlock<int, int>(keys.Work, Chains.Options(1, ordered: true));
            partitions[p].LinkTo(last);
        }

        for (var i = 0; i < n; i++)
        {
            await partitions[KeyOrderChecker.Key(i) % Partitions].SendAsync(i).ConfigureAwait(false);
        }

        foreach (var partition in partitions)
        {
            partition.Complete();
        }

        await Task.WhenAll(partitions.Select(p => p.Completion)).ConfigureAwait(false);
        last.Complete();
        await last.Completion.ConfigureAwait(false);
        keys.ThrowIfBroken();
        var expected = (long)n * (n - 1) / 2;
        return sum.Total == expected ? sum.Total : throw new InvalidOperationException($"Sum {sum.Total}, expected {expected}.");
    }

    /// <summary>Remembers the last item seen per key; each key lives in one partition, so no two threads share a slot.</summary>
    private sealed class KeyOrderChecker
    {
        private const int Keys = 64;
        private const int Pad = 16; // one cache line per key: partitions on different cores do not share lines
        private readonly int[] _last = Enumerable.Repeat(-1, Keys * Pad).ToArray();
        private volatile bool _broken;

        public static int Key(int x) => x % Keys;

        public int Work(int x)
        {
            ref var last = ref _last[Key(x) * Pad];
            if (x <= last)
            {
                _broken = true;
            }

            last = x;
            return x;
        }

        public void ThrowIfBroken()
        {
            if (_broken)
            {
                throw new InvalidOperationException("Per-key order broken.");
            }
        }
    }

    /// <summary>The last stage: checks the dispatcher stage's output is in input order.</summary>
    private sealed class OrderChecker
    {
        private int _next;
        private int _count;
        private bool _broken;

        public void Add(int x)
        {
            _broken |= x != _next;
            _next = x + 1;
            _count++;
        }

        public long Finish(int n) => !_broken && _count == n
            ? n
            : throw new InvalidOperationException($"Output order broken or items lost: {_count} items, expected {n}.");
    }
}
