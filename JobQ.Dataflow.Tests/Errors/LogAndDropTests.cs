using JobQ.Dataflow.Tests.TestSupport;
using Microsoft.Extensions.Logging;
using Moq;

namespace JobQ.Dataflow.Tests.Errors;

[TestClass]
public sealed class LogAndDropTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task RunAsync_DefaultPolicyWorkerThrows_CountsFailedLogsErrorAndGoesOn()
    {
        var logger = LoggerMock.Create();
        var boom = new InvalidOperationException("boom");
        var passed = new List<int>();
        var workers = Workers.Of<int>()
            .Then(x => x == 3 ? throw boom : x, name: "work")
            .Then((int x) => passed.Add(x), name: "sink");

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 6), workers, new JobOptions { Logger = logger.Object }).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(1L, result.Stats.Stages[0].Failed);
        Assert.AreEqual(6L, result.Stats.Stages[0].Out);
        Assert.AreEqual(0L, result.Stats.Stages[1].Failed);
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 4, 5 }, passed);
        logger.VerifyLog(LogLevel.Error, boom, "'work'", Times.Once());
        logger.VerifyLog(LogLevel.Error, boom, "item 3", Times.Once());
    }

    [TestMethod]
    public void Run_ExplicitLogAndDropAsyncWorkerThrows_LogsEachFailureWithItsException()
    {
        var logger = LoggerMock.Create();
        var thrown = new Dictionary<int, Exception>();
        for (var i = 0; i < 20; i += 4)
        {
            thrown[i] = new InvalidOperationException($"bad {i}");
        }

        var workers = Workers.Of<int>().Then(
            async (int x, CancellationToken ct) =>
            {
                await Task.Yield();
                return thrown.TryGetValue(x, out var error) ? throw error : x;
            },
            threads: 3,
            name: "fetch");

        var result = JobQueue.Run(Enumerable.Range(0, 20), workers, new JobOptions { Logger = logger.Object, ErrorPolicy = ErrorPolicy.LogAndDrop });

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(thrown.Count, result.Stats.Stages[0].Failed);
        foreach (var (item, error) in thrown)
        {
            logger.VerifyLog(LogLevel.Error, error, $"item {item}", Times.Once());
        }

        logger.VerifyLog<Exception>(LogLevel.Error, Times.Exactly(thrown.Count));
    }

    [TestMethod]
    public void Run_LoggerThrows_RunGoesOnAndCountsEveryFailure()
    {
        var logger = LoggerMock.CreateThrowing();
        var passed = new List<int>();
        var workers = Workers.Of<int>()
            .Then(x => x % 2 == 0 ? throw new InvalidOperationException("even") : x, threads: 2)
            .Then((int x) => passed.Add(x));

        var result = JobQueue.Run(Enumerable.Range(0, 100), workers, new JobOptions { Logger = logger.Object });

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(50L, result.Stats.Stages[0].Failed);
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 100).Where(x => x % 2 == 1).ToList(), passed);
    }
}
