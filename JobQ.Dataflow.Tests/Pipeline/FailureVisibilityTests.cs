using System.Threading.Tasks.Dataflow;
using JobQ.Dataflow.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace JobQ.Dataflow.Tests.Pipeline;

/// <summary>
/// A failed item is never invisible: with no logger, failures go to standard error (as Python's logging does when
/// nothing is configured), and the run's result counts them.
/// </summary>
/// <remarks>These tests swap <see cref="Console.Error"/>; the assembly runs its tests one at a time (see MSTestSettings.cs).</remarks>
[TestClass]
public sealed class FailureVisibilityTests
{
    private static int FailOnThree(int x) => x == 3 ? throw new InvalidOperationException("three is not welcome") : x;

    [TestMethod]
    public async Task Run_WorkerFailsWithNoLogger_StandardErrorShowsLevelStageAndException()
    {
        var text = await CaptureStandardErrorAsync(() => JobQueue.RunAsync(Enumerable.Range(0, 5), Workers.Of<int>().Then(FailOnThree, name: "picky-stage")));

        var lines = text.Split(Environment.NewLine).Where(line => line.Contains("picky-stage", StringComparison.Ordinal)).ToList();
        Assert.HasCount(1, lines, text);
        Assert.Contains("Error", lines[0]);
        Assert.Contains("Worker of stage 'picky-stage' failed on item 3.", lines[0]);
        Assert.Contains("System.InvalidOperationException: three is not welcome", lines[0]);
        Assert.Contains(nameof(FailOnThree), text, "the exception's stack trace follows");
    }

    [TestMethod]
    public async Task Run_FailedItemAndExceptionCannotBeWrittenWithNoLogger_StandardErrorShowsTheEntryWithAPlaceholderForTheItem()
    {
        var text = await CaptureStandardErrorAsync(() => JobQueue.RunAsync(
            [new Unprintable()],
            Workers.Of<Unprintable>().Then<Unprintable>(_ => throw new UnreadableException(), name: "unprintable-stage")));

        var lines = text.Split(Environment.NewLine).Where(line => line.StartsWith("JobQ.Dataflow Error:", StringComparison.Ordinal)).ToList();
        Assert.HasCount(1, lines, text);
        Assert.Contains($"Worker of stage 'unprintable-stage' failed on item ({typeof(Unprintable).FullName}: its text could not be read).", lines[0]);
        Assert.Contains(typeof(UnreadableException).FullName!, lines[0]);
    }

    /// <summary>An item whose text cannot be read.</summary>
    private sealed class Unprintable
    {
        public override string ToString() => throw new InvalidOperationException("no text");
    }

    /// <summary>An exception whose text cannot be read.</summary>
    private sealed class UnreadableException : Exception
    {
        public override string Message => throw new InvalidOperationException("no message");

        public override string ToString() => throw new InvalidOperationException("no text");
    }

    [TestMethod]
    public async Task Run_DispatcherFailsWithNoLogger_StandardErrorShowsStageAndException()
    {
        static int Route(int x) => x == 3 ? throw new InvalidOperationException("no partition for three") : x;

        var text = await CaptureStandardErrorAsync(() => JobQueue.RunAsync(Enumerable.Range(0, 5), Workers.Of<int>().Then(x => x, threads: 2, dispatcher: Route, name: "routed-stage")));

        var lines = text.Split(Environment.NewLine).Where(line => line.Contains("routed-stage", StringComparison.Ordinal)).ToList();
        Assert.HasCount(1, lines, text);
        Assert.Contains("Dispatcher of stage 'routed-stage' failed on item 3.", lines[0]);
        Assert.Contains("System.InvalidOperationException: no partition for three", lines[0]);
    }

    [TestMethod]
    public async Task JobManager_WorkerFailsWithNoLogger_StandardErrorShowsStageAndException()
    {
        var text = await CaptureStandardErrorAsync(async () =>
        {
            await using var manager = JobManager.Create(Workers.Of<int>().Then(FailOnThree, name: "managed-stage"));
            for (var i = 0; i < 5; i++)
            {
                await manager.PutAsync(i).AsTask().Within();
            }

            Assert.IsTrue(await manager.JoinAsync().Within());
            Assert.AreEqual(1, manager.Stat().Stages[0].Failed);
        });

        var lines = text.Split(Environment.NewLine).Where(line => line.Contains("managed-stage", StringComparison.Ordinal)).ToList();
        Assert.HasCount(1, lines, text);
        Assert.Contains("Worker of stage 'managed-stage' failed on item 3.", lines[0]);
        Assert.Contains("System.InvalidOperationException: three is not welcome", lines[0]);
    }

    [TestMethod]
    public async Task CreateBlock_WorkerFailsWithNoLogger_StandardErrorShowsStageAndException()
    {
        var text = await CaptureStandardErrorAsync(async () =>
        {
            var block = JobQueue.CreateBlock(Workers.Of<int>().Then(FailOnThree, name: "block-stage"));
            var output = new CollectingTarget<int>();
            block.LinkTo(output, new DataflowLinkOptions { PropagateCompletion = true });
            for (var i = 0; i < 5; i++)
            {
                Assert.IsTrue(await block.SendAsync(i).Within());
            }

            block.Complete();
            await output.Completion.Within();
            Assert.HasCount(4, output.Items);
        });

        var lines = text.Split(Environment.NewLine).Where(line => line.Contains("block-stage", StringComparison.Ordinal)).ToList();
        Assert.HasCount(1, lines, text);
        Assert.Contains("Worker of stage 'block-stage' failed on item 3.", lines[0]);
        Assert.Contains("System.InvalidOperationException: three is not welcome", lines[0]);
    }

    [TestMethod]
    public async Task Run_WorkerFailsWithNullLogger_NothingOnStandardError()
    {
        var options = new JobOptions { Logger = NullLogger.Instance };

        var text = await CaptureStandardErrorAsync(() => JobQueue.RunAsync(Enumerable.Range(0, 5), Workers.Of<int>().Then(FailOnThree, name: "quiet-stage"), options));

        Assert.DoesNotContain("quiet-stage", text);
        Assert.DoesNotContain("three is not welcome", text);
    }

    [TestMethod]
    public async Task Run_WorkerFailsWithUserLogger_LoggerGetsItAndStandardErrorNothing()
    {
        var logger = LoggerMock.Create();

        var text = await CaptureStandardErrorAsync(() => JobQueue.RunAsync(Enumerable.Range(0, 5), Workers.Of<int>().Then(FailOnThree, name: "logged-stage"), new JobOptions { Logger = logger.Object }));

        Assert.DoesNotContain("logged-stage", text);
        logger.VerifyLogged(LogLevel.Error, "logged-stage", null, Moq.Times.Once());
    }

    [TestMethod]
    public void Validated_NoLogger_UsesStandardErrorLoggerForWarningsAndAbove()
    {
        var validated = new JobOptions().Validated("options");

        Assert.IsNotNull(validated.Logger);
        Assert.IsTrue(validated.Logger.IsEnabled(LogLevel.Warning));
        Assert.IsTrue(validated.Logger.IsEnabled(LogLevel.Error));
        Assert.IsTrue(validated.Logger.IsEnabled(LogLevel.Critical));
        Assert.IsFalse(validated.Logger.IsEnabled(LogLevel.Information));
        Assert.IsFalse(validated.Logger.IsEnabled(LogLevel.None));
    }

    [TestMethod]
    public void Validated_NoLogger_LeavesTheCallersOptionsUnchanged()
    {
        var options = new JobOptions();

        _ = options.Validated("options");

        Assert.IsNull(options.Logger);
    }

    [TestMethod]
    public void Validated_UserLogger_Kept()
    {
        var options = new JobOptions { Logger = NullLogger.Instance };

        Assert.AreSame(NullLogger.Instance, options.Validated("options").Logger);
    }

    [TestMethod]
    public void StandardErrorLogger_InformationEntry_NotPrintedWarningPrinted()
    {
        // Speed reports and resizes are Information: not failures, so not printed by default.
        var logger = new JobOptions().Validated("options").Logger!;
        var previous = Console.Error;
        using var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            logger.LogInformation("informational-entry");
            logger.LogWarning("warning-entry");
        }
        finally
        {
            Console.SetError(previous);
        }

        var text = captured.ToString();
        Assert.DoesNotContain("informational-entry", text);
        Assert.AreEqual("JobQ.Dataflow Warning: warning-entry" + Environment.NewLine, text);
    }

    [TestMethod]
    public async Task RunAsync_FailuresInTwoStages_FailedIsTheirSum()
    {
        var workers = Workers.Of<int>()
            .Then(FailOnThree, threads: 2)
            .Then(async x =>
            {
                await Task.Yield();
                return x % 2 == 0 ? throw new InvalidOperationException("even") : x;
            });

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 10), workers, new JobOptions { Logger = NullLogger.Instance }).Within();

        // Stage 0 fails on 3; stage 1 then sees 0..9 without 3 and fails on the five even ones.
        Assert.AreEqual(1, result.Stats.Stages[0].Failed);
        Assert.AreEqual(5, result.Stats.Stages[1].Failed);
        Assert.AreEqual(6, result.Failed);
    }

    [TestMethod]
    public void Run_NoFailures_FailedIsZero()
    {
        var result = JobQueue.Run(Enumerable.Range(0, 10), Workers.Of<int>().Then(x => x + 1), timeout: Bounded.Limit);

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(0, result.Failed);
    }

    [TestMethod]
    public async Task RunAsync_DispatcherStageFailures_CountedInFailed()
    {
        var workers = Workers.Of<int>().Then(FailOnThree, threads: 3, dispatcher: x => x);

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 10), workers, new JobOptions { Logger = NullLogger.Instance }).Within();

        Assert.AreEqual(1, result.Failed);
    }

    private static Task<string> CaptureStandardErrorAsync(Func<Task<JobRunResult>> run)
        => CaptureStandardErrorAsync(async () => Assert.IsTrue((await run().Within()).Completed));

    private static async Task<string> CaptureStandardErrorAsync(Func<Task> action)
    {
        var previous = Console.Error;
        using var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            await action().Within();
        }
        finally
        {
            Console.SetError(previous);
        }

        return captured.ToString();
    }
}
