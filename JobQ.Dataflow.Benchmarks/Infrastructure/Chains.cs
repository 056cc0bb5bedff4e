using System.Threading.Tasks.Dataflow;

namespace JobQ.Dataflow.Benchmarks.Infrastructure;

/// <summary>
/// The chain add1 -> multi2 -> sum written with JobQ.Dataflow and by hand with per-item Dataflow blocks (Akka.Streams
/// is <see cref="AkkaChain"/>). Each run returns the sum and throws if it is wrong, so no run can skip work unnoticed.
/// </summary>
internal static class Chains
{
    /// <summary>The Dataflow blocks' BoundedCapacity, the same as JobQ.Dataflow's default queue size.</summary>
    public const int QueueSize = 1024;

    /// <summary>The first stage.</summary>
    /// <param name="x">The item.</param>
    /// <returns>x + 1.</returns>
    public static int Add1(int x) => x + 1;

    /// <summary>The middle stage.</summary>
    /// <param name="x">The item.</param>
    /// <returns>x * 2.</returns>
    public static int Multi2(int x) => x * 2;

    /// <summary>The input of every chain: 0 .. n-1, the same enumerable for every side.</summary>
    /// <param name="n">The item count.</param>
    /// <returns>The items.</returns>
    public static IEnumerable<int> Items(int n) => Enumerable.Range(0, n);

    /// <summary>0 .. n-1 from an iterator: read one at a time, with nothing to index or count ahead.</summary>
    /// <param name="n">The item count.</param>
    /// <returns>The items.</returns>
    public static IEnumerable<int> LazyItems(int n)
    {
        for (var i = 0; i < n; i++)
        {
            yield return i;
        }
    }

    /// <summary>Our chain: add1 (threads 1) -> multi2 (threads <paramref name="middleThreads"/>) -> sum (threads 1).</summary>
    /// <param name="middleThreads">The middle stage's thread count.</param>
    /// <param name="sum">The last stage's accumulator.</param>
    /// <returns>The workers.</returns>
    public static Workers<int, int> OursWorkers(int middleThreads, Summer sum)
        => Workers.Of<int>().Then(Add1).Then(Multi2, threads: middleThreads).Then(sum.Add);

    /// <summary>Runs our chain over <see cref="Items"/> with <see cref="JobQueue.Run{TIn,TOut}(IEnumerable{TIn},Workers{TIn,TOut},bool,TimeSpan?,Probe?)"/>.</summary>
    /// <param name="n">The item count.</param>
    /// <param name="middleThreads">The middle stage's thread count.</param>
    /// <param name="keepOrder">Whether items leave each stage in input order.</param>
    /// <returns>The checked sum.</returns>
    public static long Ours(int n, int middleThreads = 1, bool keepOrder = false) => Ours(Items(n), n, middleThreads, keepOrder);

    /// <summary>Runs our chain over <paramref name="input"/>.</summary>
    /// <param name="input">The items, 0 .. n-1.</param>
    /// <param name="n">The item count.</param>
    /// <param name="middleThreads">The middle stage's thread count.</param>
    /// <param name="keepOrder">Whether items leave each stage in input order.</param>
    /// <returns>The checked sum.</returns>
    public static long Ours(IEnumerable<int> input, int n, int middleThreads, bool keepOrder)
    {
        var sum = new Summer();
        var result = JobQueue.Run(input, OursWorkers(middleThreads, sum), keepOrder);
        return result.Completed ? Check(sum.Total, n) : throw new InvalidOperationException("Run did not complete.");
    }

    /// <summary>
    /// The same chain by hand: TransformBlock(add1) -> TransformBlock(multi2, MaxDegreeOfParallelism
    /// <paramref name="middleThreads"/>) -> ActionBlock(sum), BoundedCapacity 1024 each, PropagateCompletion, fed
    /// by SendAsync from <see cref="Items"/>.
    /// </summary>
    /// <param name="n">The item count.</param>
    /// <param name="middleThreads">The middle block's MaxDegreeOfParallelism.</param>
    /// <param name="ordered">EnsureOrdered of every block.</param>
    /// <returns>The checked sum.</returns>
    public static long Dataflow(int n, int middleThreads = 1, bool ordered = false)
        => DataflowAsync(Items(n), n, middleThreads, ordered).GetAwaiter().GetResult();

    /// <summary>The options of a baseline block: BoundedCapacity 1024, the given parallelism and ordering.</summary>
    /// <param name="parallelism">MaxDegreeOfParallelism.</param>
    /// <param name="ordered">EnsureOrdered.</param>
    /// <returns>The options.</returns>
    public static ExecutionDataflowBlockOptions Options(int parallelism, bool ordered) => new()
    {
        BoundedCapacity = QueueSize,
        MaxDegreeOfParallelism = parallelism,
        EnsureOrdered = ordered,
    };

    /// <summary>Returns <paramref name="total"/> if it is the chain's sum over 0 .. n-1, that is n(n+1); throws otherwise.</summary>
    /// <param name="total">The sum the last stage saw.</param>
    /// <param name="n">The item count.</param>
    /// <returns>The total.</returns>
    public static long Check(long total, int n)
    {
        var expected = (long)n * (n + 1);
        return total == expected ? total : throw new InvalidOperationException($"Sum {total}, expected {expected}.");
    }

    private static async Task<long> DataflowAsync(IEnumerable<int> input, int n, int middleThreads, bool ordered)
    {
        var link = new DataflowLinkOptions { PropagateCompletion = true };
        var add1 = new TransformBlock<int, int>(Add1, Options(1, ordered));
        var multi2 = new TransformBlock<int, int>(Multi2, Options(middleThreads, ordered));
        var sum = new Summer();
        var last = new ActionBlock<int>(sum.Add, Options(1, ordered));
        add1.LinkTo(multi2, link);
        multi2.LinkTo(last, link);
        foreach (var x in input)
        {
            await add1.SendAsync(x).ConfigureAwait(false);
        }

        add1.Complete();
        await last.Completion.ConfigureAwait(false);
        return Check(sum.Total, n);
    }
}
