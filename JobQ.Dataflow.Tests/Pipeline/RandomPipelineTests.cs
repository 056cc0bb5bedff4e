using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace JobQ.Dataflow.Tests.Pipeline;

/// <summary>
/// Random worker lists (maps, async maps, filters, generators, throwing workers, dispatchers; random threads, queue
/// sizes and keepOrder) against a sequential model of the same stages, through <c>Run</c>, a <c>JobManager</c> and
/// <c>CreateBlock</c>: nothing lost, nothing duplicated, every stage's counts as the model's, and the model's order
/// wherever order is promised (keepOrder, or every stage one call at a time).
/// </summary>
[TestClass]
public sealed class RandomPipelineTests
{
    public static IEnumerable<object[]> Seeds => Enumerable.Range(1, 200).Select(seed => new object[] { seed });

    [TestMethod]
    [DynamicData(nameof(Seeds))]
    public async Task RandomPipeline_FixedSeed_MatchesASequentialModel(int seed)
    {
        var random = new Random(seed);
        var stages = Enumerable.Range(0, random.Next(1, 4)).Select(_ => Stage.Make(random)).ToArray();
        var keepOrder = random.Next(2) == 0;
        var options = new JobOptions { KeepOrder = keepOrder, QueueSize = random.Next(1, 17), Logger = NullLogger.Instance };
        var input = Enumerable.Range(0, random.Next(0, 300)).ToArray();
        var entry = random.Next(3);
        var description = $"seed {seed}: entry {entry}, keepOrder {keepOrder}, queue {options.QueueSize}, {input.Length} items, {string.Join(" -> ", stages.Select(s => s.ToString()))}";

        var outputs = new List<int>();
        var workers = stages.Aggregate(Workers.Of<int>().Then(x => x, name: "start"), (list, stage) => stage.AddTo(list));
        JobStats stats;
        switch (entry)
        {
            case 0:
                var result = await JobQueue.RunAsync(input, workers.Then((int x) => outputs.Add(x)), options).Within();
                Assert.IsTrue(result.Completed, description);
                stats = result.Stats;
                break;
            case 1:
                using (var manager = JobManager.Create(workers.Then((int x) => outputs.Add(x)), options))
                {
                    foreach (var item in input)
                    {
                        await manager.PutAsync(item).AsTask().Within();
                    }

                    Assert.IsTrue(await manager.JoinAsync(Bounded.Limit), description);
                    stats = manager.Stat();
                }

                break;
            default:
                var probe = new Probe();
                options.Probe = probe;
                var block = JobQueue.CreateBlock(workers, options);
                var sink = new ActionBlock<int>(outputs.Add);
                block.LinkTo(sink, new DataflowLinkOptions { PropagateCompletion = true });
                foreach (var item in input)
                {
                    Assert.IsTrue(await block.SendAsync(item).Within(), description);
                }

                block.Complete();
                await sink.Completion.Within();
                stats = JobQueue.Stat(probe);
                break;
        }

        var expected = input.AsEnumerable();
        for (var i = 0; i < stages.Length; i++)
        {
            var reaching = expected.ToArray();
            var counts = stats.Stages[i + 1];
            Assert.AreEqual(reaching.Length, counts.In, $"{description}: stage {i} calls");
            Assert.AreEqual(reaching.Count(stages[i].Throws), counts.Failed, $"{description}: stage {i} failed");
            Assert.AreEqual(reaching.Count(x => !stages[i].Throws(x) && !stages[i].Apply(x).Any()), counts.Dropped, $"{description}: stage {i} dropped");
            var stage = stages[i];
            expected = reaching.SelectMany(x => stage.Throws(x) ? [] : stage.Apply(x));
        }

        var model = expected.ToArray();
        if (keepOrder || stages.All(s => s.OneAtATime))
        {
            CollectionAssert.AreEqual(model, outputs, description);
        }
        else
        {
            CollectionAssert.AreEquivalent(model, outputs, description);
        }
    }

    /// <summary>One random stage and its model: what it passes on for an item, and which items make it throw.</summary>
    private sealed record Stage(string Kind, int K, int Threads, int Partitions)
    {
        public bool OneAtATime => Threads == 1 || Partitions > 0;

        public static Stage Make(Random random)
        {
            var kind = new[] { "map", "async", "filter", "generator", "async-generator", "throw", "dispatcher" }[random.Next(7)];
            return new Stage(kind, random.Next(2, 6), random.Next(1, 5), kind == "dispatcher" ? random.Next(1, 5) : 0);
        }

        public bool Throws(int x) => Kind == "throw" && x % K == 0;

        public IEnumerable<int> Apply(int x) => Kind switch
        {
            "filter" => x % K == 0 ? [] : [x],
            "generator" or "async-generator" => Enumerable.Range(0, x % K).Select(j => (x * 4) + j),
            "throw" => [x + 1],
            _ => [(x * 2) + K],
        };

        public Workers<int, int> AddTo(Workers<int, int> list) => Kind switch
        {
            "map" => list.Then(x => Apply(x).Single(), Threads),
            "async" => list.Then(
                async (int x, CancellationToken _) =>
                {
                    if (x % 3 == 0)
                    {
                        await Task.Yield();
                    }

                    return Apply(x).Single();
                },
                Threads),
            "filter" => list.Then<int>(x => x % K == 0 ? JobQueue.EmptyRst : x, Threads),
            "generator" => list.ThenMany(Apply, Threads),
            "async-generator" => list.ThenMany(ApplyAsync, Threads),
            "throw" => list.Then(x => Throws(x) ? throw new InvalidOperationException($"item {x}") : Apply(x).Single(), Threads),
            _ => list.Then(x => Apply(x).Single(), Partitions, dispatcher: x => x % 3),
        };

        public override string ToString() => Partitions > 0 ? $"{Kind}(K={K}, partitions {Partitions})" : $"{Kind}(K={K}, threads {Threads})";

        private async IAsyncEnumerable<int> ApplyAsync(int x)
        {
            foreach (var value in Apply(x))
            {
                await Task.Yield();
                yield return value;
            }
        }
    }
}
