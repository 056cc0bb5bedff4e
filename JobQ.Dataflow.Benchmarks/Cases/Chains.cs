using System.Threading.Tasks.Dataflow;
using Akka.Actor;
using Akka.Configuration;
using Akka.Streams;
using Akka.Streams.Dsl;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// The chain add1 -> multi2 -> sum written three ways: with JobQ.Dataflow, by hand with per-item Dataflow blocks,
/// and with Akka.Streams. Each returns the sum and throws if it is wrong, so no run can skip work unnoticed.
/// </summary>
internal static class Chains
{
    public const int QueueSize = 1024;

    public static int Add1(int x) => x + 1;

    public static int Multi2(int x) => x * 2;

    public static Workers<int, int> OursWorkers(int middleThreads, Summer sum)
        => Workers.Of<int>().Then(Add1).Then(Multi2, middleThreads).Then(sum.Add);

    public static long Ours(int n, int middleThreads = 1, bool keepOrder = false)
    {
        var sum = new Summer();
        var result = JobQueue.Run(Enumerable.Range(0, n), OursWorkers(middleThreads, sum), keepOrder);
        if (!result.Completed)
        {
            throw new InvalidOperationException("Run did not complete.");
        }

        return Check(sum.Total, n);
    }

    public static long Dataflow(int n, int middleThreads = 1, bool ordered = false)
        => DataflowAsync(n, middleThreads, ordered).GetAwaiter().GetResult();

    public static ExecutionDataflowBlockOptions Options(int parallelism, bool ordered) => new()
    {
        BoundedCapacity = QueueSize,
        MaxDegreeOfParallelism = parallelism,
        EnsureOrdered = ordered,
    };

    public static long Check(long total, int n)
    {
        var expected = (long)n * (n + 1);
        return total == expected ? total : throw new InvalidOperationException($"Sum {total}, expected {expected}.");
    }

    public static ActorSystem CreateActorSystem() => ActorSystem.Create(
        "bench",
        ConfigurationFactory.ParseString("akka.loglevel = ERROR\nakka.stdout-loglevel = ERROR\nakka.log-dead-letters = off"));

    /// <summary>Akka.Streams: Source.From(IEnumerable), two Selects and an aggregating sink, fused into one actor.</summary>
    public static long Akka(int n, IMaterializer materializer)
    {
        var total = Source.From(Enumerable.Range(0, n))
            .Select(Add1)
            .Select(Multi2)
            .RunWith(Sink.Aggregate<int, long>(0L, (s, x) => s + x), materializer)
            .GetAwaiter().GetResult();
        return Check(total, n);
    }

    private static async Task<long> DataflowAsync(int n, int middleThreads, bool ordered)
    {
        var link = new DataflowLinkOptions { PropagateCompletion = true };
        var add1 = new TransformBlock<int, int>(Add1, Options(1, ordered));
        var multi2 = new TransformBlock<int, int>(Multi2, Options(middleThreads, ordered));
        var sum = new Summer();
        var last = new ActionBlock<int>(sum.Add, Options(1, ordered));
        add1.LinkTo(multi2, link);
        multi2.LinkTo(last, link);
        for (var i = 0; i < n; i++)
        {
            await add1.SendAsync(i).ConfigureAwait(false);
        }

        add1.Complete();
        await last.Completion.ConfigureAwait(false);
        return Check(sum.Total, n);
    }
}
