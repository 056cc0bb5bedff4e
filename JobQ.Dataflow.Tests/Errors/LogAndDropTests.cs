using JobQ.Dataflow.Tests.Support;
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
        logger.VerifyLogged(LogLevel.Error, "'work'", boom, Times.Once());
        logger.VerifyLogged(LogLevel.Error, "item 3", boom, Times.Once());
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
            logger.VerifyLogged(LogLevel.Error, $"item {item}", error, Times.Once());
        }

        logger.VerifyLogged<Exception>(LogLevel.Error, Times.Exactly(thrown.Count));
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

    [TestMethod]
    public async Task RunAsync_KeepOrderWorkerThrows_OutputStaysInInputOrderWithoutTheFailedItems()
    {
        var outputs = new List<int>();
        var workers = Workers.Of<int>()
            .Then(
                async (int x, CancellationToken ct) =>
                {
                    await Task.Yield();
                    return x % 7 == 3 ? throw new InvalidOperationException("bad") : x;
                },
                threads: 4)
            .Then(x => x % 11 == 5 ? throw new InvalidOperationException("bad") : x, threads: 3)
            .Then((int x) => outputs.Add(x));

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 2000), workers, new JobOptions { KeepOrder = true, QueueSize = 32 }).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        CollectionAssert.AreEqual(Enumerable.Range(0, 2000).Where(x => x % 7 != 3 && x % 11 != 5).ToList(), outputs);
    }

    [TestMethod]
    public async Task RunAsync_GeneratorThrowsMidway_PassesEarlierElementsAndCountsOneFailure()
    {
        var logger = LoggerMock.Create();
        var boom = new InvalidOperationException("midway");
        var outputs = new List<int>();
        var workers = Workers.Of<int>()
            .ThenMany(Expand, name: "expand")
            .Then((int x) => outputs.Add(x));

        var result = await JobQueue.RunAsync(new[] { 1, 2, 3 }, workers, new JobOptions { KeepOrder = true, Logger = logger.Object }).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        CollectionAssert.AreEqual(new[] { 10, 11, 12, 20, 21, 30, 31, 32 }, outputs);
        Assert.AreEqual(1L, result.Stats.Stages[0].Failed);
        Assert.AreEqual(3L, result.Stats.Stages[0].Out);
        logger.VerifyLogged(LogLevel.Error, "'expand'", boom, Times.Once());

        IEnumerable<int> Expand(int x)
        {
            yield return x * 10;
            yield return (x * 10) + 1;
            if (x == 2)
            {
                throw boom;
            }

            yield return (x * 10) + 2;
        }
    }

    [TestMethod]
    public async Task RunAsync_PartitionWorkerThrows_CountsItInTheDispatcherStage()
    {
        var logger = LoggerMock.Create();
        var outputs = new List<int>();
        var workers = Workers.Of<int>()
            .Then(x => x % 5 == 2 ? throw new InvalidOperationException("bad") : x, threads: 3, dispatcher: x => x, name: "routed")
            .Then((int x) => outputs.Add(x));

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 100), workers, new JobOptions { Logger = logger.Object }).WaitAsync(Bound);

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(20L, result.Stats.Stages[0].Failed);
        Assert.AreEqual(100L, result.Stats.Stages[0].In);
        Assert.AreEqual(result.Stats.Stages[0].In, result.Stats.Stages[0].Out);
        CollectionAssert.AreEqual(Enumerable.Range(0, 100).Where(x => x % 5 != 2).ToList(), outputs, "A dispatcher stage keeps input order around failures.");
        logger.VerifyLogged<InvalidOperationException>(LogLevel.Error, Times.Exactly(20));
    }

    [TestMethod]
    public async Task RunAsync_ErrorLevelDisabled_NeverCallsLog()
    {
        var logger = new Mock<ILogger>();
        logger.Setup(l => l.IsEnabled(It.IsAny<LogLevel>())).Returns(false);
        var workers = Workers.Of<int>().Then(x => x % 2 == 0 ? throw new InvalidOperationException("even") : x);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 20), workers, new JobOptions { Logger = logger.Object }).WaitAsync(Bound);

        Assert.AreEqual(10L, result.Stats.Stages[0].Failed);
        logger.Verify(l => l.IsEnabled(LogLevel.Error), Times.AtLeastOnce());
        logger.VerifyNotLogged(LogLevel.Error);
    }
}
