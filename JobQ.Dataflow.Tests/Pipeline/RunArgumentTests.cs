using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Pipeline;

/// <summary>Bad input: an Argument*Exception naming the parameter or stage and value, thrown before any work starts.</summary>
[TestClass]
public sealed class RunArgumentTests
{
    private static int Identity(int x) => x;

    [TestMethod]
    public void Run_NullInput_ThrowsArgumentNullNamingInput()
    {
        var ex = Assert.ThrowsExactly<ArgumentNullException>(() => JobQueue.Run(null!, Workers.Of<int>().Then(Identity)));

        Assert.AreEqual("input", ex.ParamName);
    }

    [TestMethod]
    public void RunAsync_NullEnumerableInput_ThrowsArgumentNullSynchronously()
    {
        var ex = Assert.ThrowsExactly<ArgumentNullException>(() => JobQueue.RunAsync((IEnumerable<int>)null!, Workers.Of<int>().Then(Identity)));

        Assert.AreEqual("input", ex.ParamName);
    }

    [TestMethod]
    public void RunAsync_NullAsyncEnumerableInput_ThrowsArgumentNullSynchronously()
    {
        var ex = Assert.ThrowsExactly<ArgumentNullException>(() => JobQueue.RunAsync((IAsyncEnumerable<int>)null!, Workers.Of<int>().Then(Identity)));

        Assert.AreEqual("input", ex.ParamName);
    }

    [TestMethod]
    public void Run_NullWorkers_ThrowsArgumentNullNamingWorkersAndReadsNoInput()
    {
        var input = new CountingEnumerable(10);

        var ex = Assert.ThrowsExactly<ArgumentNullException>(() => JobQueue.Run(input, (Workers<int, int>)null!));

        Assert.AreEqual("workers", ex.ParamName);
        Assert.AreEqual(0, input.Enumerations);
    }

    [TestMethod]
    public void Then_NullWorker_ThrowsArgumentNullNamingTheStage()
    {
        var workers = Workers.Of<int>().Then(Identity);

        var sync = Assert.ThrowsExactly<ArgumentNullException>(() => workers.Then((Func<int, int>)null!));
        var async = Assert.ThrowsExactly<ArgumentNullException>(() => workers.Then((Func<int, Task<int>>)null!));
        var many = Assert.ThrowsExactly<ArgumentNullException>(() => workers.ThenMany((Func<int, IEnumerable<int>>)null!));
        var action = Assert.ThrowsExactly<ArgumentNullException>(() => workers.Then((Action<int>)null!));

        foreach (var error in new[] { sync, async, many, action })
        {
            Assert.AreEqual("worker", error.ParamName);
            StringAssert.StartsWith(error.Message, "Stage 1: the worker is null.");
        }
    }

    [TestMethod]
    [DataRow("")]
    [DataRow("  ")]
    public void Then_EmptyName_ThrowsArgumentNamingTheStage(string name)
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => Workers.Of<int>().Then(Identity).Then(Identity, name: name));

        Assert.AreEqual("name", error.ParamName);
        StringAssert.StartsWith(error.Message, "Stage 1: a stage name must not be empty or white space");
    }

    [TestMethod]
    public void Then_NullSpeedLimit_ThrowsArgumentNullNamingTheStage()
    {
        var error = Assert.ThrowsExactly<ArgumentNullException>(() => Workers.Of<int>().Then((SpeedLimit)null!));

        Assert.AreEqual("limit", error.ParamName);
        StringAssert.StartsWith(error.Message, "Stage 0: the limit is null.");
    }

    [TestMethod]
    public void Run_NullOptions_ThrowsArgumentNullNamingOptions()
    {
        var ex = Assert.ThrowsExactly<ArgumentNullException>(() => JobQueue.Run([1], Workers.Of<int>().Then(Identity), (JobOptions)null!));

        Assert.AreEqual("options", ex.ParamName);
    }

    [TestMethod]
    public void Run_EmptyWorkerList_ThrowsArgumentExceptionNamingWorkersAndReadsNoInput()
    {
        var input = new CountingEnumerable(10);

        var ex = Assert.ThrowsExactly<ArgumentException>(() => JobQueue.Run(input, Workers.Of<int>()));

        Assert.AreEqual("workers", ex.ParamName);
        Assert.AreEqual(0, input.Enumerations);
    }

    [TestMethod]
    public void RunAsync_EmptyWorkerList_ThrowsSynchronously()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => JobQueue.RunAsync(Enumerable.Range(0, 3), Workers.Of<int>()));

        Assert.AreEqual("workers", ex.ParamName);
    }

    [TestMethod]
    public void Then_NullSyncDelegate_ThrowsArgumentNullNamingWorker()
    {
        var ex = Assert.ThrowsExactly<ArgumentNullException>(() => Workers.Of<int>().Then((Func<int, int>)null!));

        Assert.AreEqual("worker", ex.ParamName);
    }

    [TestMethod]
    public void Then_NullDelegateOfEachKind_ThrowsArgumentNull()
    {
        var start = Workers.Of<int>();
        Action[] calls =
        [
            () => start.Then((Func<int, WorkerResult<int>>)null!),
            () => start.Then((Action<int>)null!),
            () => start.Then((Func<int, Task<int>>)null!),
            () => start.Then((Func<int, CancellationToken, Task<int>>)null!),
            () => start.Then((Func<int, ValueTask<int>>)null!),
            () => start.Then((Func<int, CancellationToken, ValueTask<int>>)null!),
            () => start.Then((Func<int, CancellationToken, Task<WorkerResult<int>>>)null!),
            () => start.Then((Func<int, Task>)null!),
            () => start.Then((Func<int, CancellationToken, Task>)null!),
            () => start.Then((Func<int, Task<WorkerResult<int>>>)null!),
            () => start.Then((Func<int, ValueTask<WorkerResult<int>>>)null!),
            () => start.Then((Func<int, CancellationToken, ValueTask<WorkerResult<int>>>)null!),
            () => start.Then((Func<int, ValueTask>)null!),
            () => start.Then((Func<int, CancellationToken, ValueTask>)null!),
            () => start.Then((SpeedLimit)null!),
            () => start.ThenMany((Func<int, IEnumerable<int>>)null!),
            () => start.ThenMany((Func<int, IAsyncEnumerable<int>>)null!),
            () => start.ThenMany((Func<int, CancellationToken, IAsyncEnumerable<int>>)null!),
        ];

        foreach (var call in calls)
        {
            var ex = Assert.ThrowsExactly<ArgumentNullException>(call);
            Assert.IsNotNull(ex.ParamName);
        }
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(-1)]
    [DataRow(int.MinValue)]
    public void Then_ThreadsNotPositive_ThrowsOutOfRangeNamingStageAndValue(int threads)
    {
        var workers = Workers.Of<int>().Then(Identity);

        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => workers.Then(Identity, threads: threads, name: "resize"));

        Assert.AreEqual("threads", ex.ParamName);
        Assert.AreEqual(threads, ex.ActualValue);
        Assert.Contains("Stage 1", ex.Message);
        Assert.Contains("resize", ex.Message);
        Assert.Contains(threads.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message);
    }

    [TestMethod]
    public void Then_ThreadsZeroOnUnnamedMethodGroup_MessageNamesMethod()
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Workers.Of<int>().Then(Identity, threads: 0));

        Assert.Contains("Stage 0", ex.Message);
        Assert.Contains("RunArgumentTests.Identity", ex.Message);
    }

    [TestMethod]
    public void Then_ThreadsZeroWithDispatcher_Throws()
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Workers.Of<int>().Then(Identity, threads: 0, dispatcher: x => x));

        Assert.AreEqual("threads", ex.ParamName);
    }

    [TestMethod]
    public void ThenMany_ThreadsNegative_Throws()
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Workers.Of<int>().ThenMany(x => new[] { x }, threads: -3));

        Assert.AreEqual("threads", ex.ParamName);
    }

    [TestMethod]
    public void Then_ThreadsIntMaxValue_ThrowsOutOfRangeNamingStageValueAndBound()
    {
        var workers = Workers.Of<int>().Then(Identity);

        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => workers.Then(Identity, threads: int.MaxValue, name: "wide"));

        AssertThreadsRefused(ex, "Stage 1", "wide");
    }

    [TestMethod]
    public void Then_ThreadsIntMaxValueWithDispatcher_ThrowsOutOfRangeNamingStageValueAndBound()
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Workers.Of<int>().Then(Identity, threads: int.MaxValue, dispatcher: x => x));

        AssertThreadsRefused(ex, "Stage 0", "RunArgumentTests.Identity");
    }

    [TestMethod]
    public void ThenMany_ThreadsAboveMaxThreads_ThrowsOutOfRange()
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Workers.Of<int>().ThenMany(x => new[] { x }, threads: JobOptions.MaxThreads + 1));

        Assert.AreEqual("threads", ex.ParamName);
        Assert.AreEqual(JobOptions.MaxThreads + 1, ex.ActualValue);
    }

    [TestMethod]
    public void Then_ThreadsAtMaxThreads_Accepted()
    {
        // Building the list starts nothing, so the bound itself can be checked without starting 10,000 workers.
        var workers = Workers.Of<int>().Then(Identity, threads: JobOptions.MaxThreads).Then(Identity, threads: JobOptions.MaxThreads, dispatcher: x => x);

        Assert.AreEqual(2, workers.Count);
    }

    [TestMethod]
    public async Task Run_TimeoutMaxValue_MeansNoTimeoutAndCompletes()
    {
        var result = await Bounded.RunBlocking(() => JobQueue.Run(Enumerable.Range(0, 10), Workers.Of<int>().Then(Identity), timeout: TimeSpan.MaxValue));

        Assert.IsTrue(result.Completed);
        Assert.AreEqual(10, result.Stats.Stages[0].Out);
    }

    [TestMethod]
    public async Task RunAsync_OptionsTimeoutAtTimerLimit_MeansNoTimeoutAndCompletes()
    {
        var options = new JobOptions { Timeout = TimeSpan.FromMilliseconds(uint.MaxValue - 1) };

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 10), Workers.Of<int>().Then(Identity), options).Within();

        Assert.IsTrue(result.Completed);
    }

    [TestMethod]
    public async Task StreamAsync_OptionsTimeoutMaxValue_YieldsEverything()
    {
        var received = new List<int>();

        await foreach (var item in JobQueue.StreamAsync(Enumerable.Range(0, 5), Workers.Of<int>().Then(Identity), new JobOptions { Timeout = TimeSpan.MaxValue, KeepOrder = true }).WithCancellation(CancellationToken.None))
        {
            received.Add(item);
        }

        CollectionAssert.AreEqual(Enumerable.Range(0, 5).ToArray(), received);
    }

    [TestMethod]
    public async Task Run_TimeoutJustBelowTimerLimit_IsKeptAndRunCompletes()
    {
        var result = await Bounded.RunBlocking(() => JobQueue.Run(Enumerable.Range(0, 3), Workers.Of<int>().Then(Identity), timeout: TimeSpan.FromMilliseconds(uint.MaxValue - 2)));

        Assert.IsTrue(result.Completed);
    }

    [TestMethod]
    public void NormalizeTimeout_InfiniteOrAtOrAboveTimerLimit_ReturnsNull()
    {
        Assert.IsNull(JobOptions.NormalizeTimeout(null));
        Assert.IsNull(JobOptions.NormalizeTimeout(Timeout.InfiniteTimeSpan));
        Assert.IsNull(JobOptions.NormalizeTimeout(TimeSpan.MaxValue));
        Assert.IsNull(JobOptions.NormalizeTimeout(TimeSpan.FromMilliseconds(uint.MaxValue - 1)));
        Assert.IsNull(JobOptions.NormalizeTimeout(TimeSpan.FromDays(50)));
    }

    [TestMethod]
    public void NormalizeTimeout_BelowTimerLimit_ReturnsItUnchanged()
    {
        var below = TimeSpan.FromMilliseconds(uint.MaxValue - 2);

        Assert.AreEqual(TimeSpan.Zero, JobOptions.NormalizeTimeout(TimeSpan.Zero));
        Assert.AreEqual(TimeSpan.FromSeconds(3), JobOptions.NormalizeTimeout(TimeSpan.FromSeconds(3)));
        Assert.AreEqual(below, JobOptions.NormalizeTimeout(below));
    }

    [TestMethod]
    public void RunAsync_ProgressIntervalMaxValue_ThrowsOutOfRangeNamingIntervalAndValueBeforeAnyWork()
    {
        var input = new CountingEnumerable(10);
        var options = new JobOptions { Progress = new Progress<JobStats>(), ProgressInterval = TimeSpan.MaxValue };

        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => JobQueue.RunAsync(input, Workers.Of<int>().Then(Identity), options));

        Assert.AreEqual("options", ex.ParamName);
        Assert.AreEqual(TimeSpan.MaxValue, ex.ActualValue);
        Assert.Contains("ProgressInterval", ex.Message);
        Assert.Contains(TimeSpan.MaxValue.ToString(), ex.Message);
        Assert.AreEqual(0, input.Enumerations);
    }

    [TestMethod]
    public void RunAsync_ProgressIntervalJustAboveTimerLimit_ThrowsOutOfRange()
    {
        var options = new JobOptions { ProgressInterval = TimeSpan.FromMilliseconds(uint.MaxValue) };

        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => JobQueue.RunAsync(Enumerable.Range(0, 3), Workers.Of<int>().Then(Identity), options));

        Assert.Contains("ProgressInterval", ex.Message);
    }

    [TestMethod]
    public async Task RunAsync_ProgressIntervalAtTimerLimit_Accepted()
    {
        var options = new JobOptions { Progress = new Progress<JobStats>(), ProgressInterval = TimeSpan.FromMilliseconds(uint.MaxValue - 1) };

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 3), Workers.Of<int>().Then(Identity), options).Within();

        Assert.IsTrue(result.Completed);
    }

    [TestMethod]
    [DataRow(1e-9)]
    [DataRow(double.Epsilon)]
    [DataRow(1e-7)]
    public void LimitJobSpeed_RateWhoseWaitExceedsTimerLimit_ThrowsOutOfRangeNamingMaxJobSpeed(double maxJobSpeed)
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => JobQueue.LimitJobSpeed(maxJobSpeed));

        Assert.AreEqual("maxJobSpeed", ex.ParamName);
        Assert.AreEqual(maxJobSpeed, ex.ActualValue);
        Assert.Contains(maxJobSpeed.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message);
    }

    [TestMethod]
    public void LimitJobSpeed_JobStepWhoseWaitExceedsTimerLimit_ThrowsOutOfRangeNamingJobStep()
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => JobQueue.LimitJobSpeed(1, jobStep: int.MaxValue));

        Assert.AreEqual("jobStep", ex.ParamName);
        Assert.AreEqual(int.MaxValue, ex.ActualValue);
        Assert.Contains(int.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message);
    }

    [TestMethod]
    public void LimitJobSpeed_SlowButExpressibleRate_Accepted()
    {
        // One item per 11.6 days: within the 49.7 days a timer can wait.
        var limit = JobQueue.LimitJobSpeed(1e-6);
        var stepped = JobQueue.LimitJobSpeed(1e-3, jobStep: 1000);

        Assert.AreEqual(1, limit.JobStep);
        Assert.AreEqual(1000, stepped.JobStep);
    }

    [TestMethod]
    [DataRow(double.NaN)]
    [DataRow(0d)]
    [DataRow(-1d)]
    [DataRow(double.NegativeInfinity)]
    public void LimitJobSpeed_NotAPositiveNumber_ThrowsOutOfRange(double maxJobSpeed)
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => JobQueue.LimitJobSpeed(maxJobSpeed));

        Assert.AreEqual("maxJobSpeed", ex.ParamName);
    }

    [TestMethod]
    public async Task LimitJobSpeed_PositiveInfinity_MeansNoLimit()
    {
        var received = new List<int>();

        var result = await JobQueue.RunAsync(Enumerable.Range(0, 100), Workers.Of<int>().Then(JobQueue.LimitJobSpeed(double.PositiveInfinity)).Then(received.Add)).Within();

        Assert.IsTrue(result.Completed);
        Assert.HasCount(100, received);
    }

    [TestMethod]
    public void Run_NegativeTimeout_ThrowsOutOfRangeNamingTimeoutBeforeAnyWork()
    {
        var input = new CountingEnumerable(10);

        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => JobQueue.Run(input, Workers.Of<int>().Then(Identity), timeout: TimeSpan.FromMilliseconds(-5)));

        Assert.AreEqual("timeout", ex.ParamName);
        Assert.AreEqual(0, input.Enumerations);
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(-1)]
    public void RunAsync_QueueSizeNotPositive_ThrowsOutOfRangeNamingQueueSizeBeforeAnyWork(int queueSize)
    {
        var input = new CountingEnumerable(10);

        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => JobQueue.RunAsync(input, Workers.Of<int>().Then(Identity), new JobOptions { QueueSize = queueSize }));

        Assert.Contains("QueueSize", ex.Message);
        Assert.AreEqual(queueSize, ex.ActualValue);
        Assert.AreEqual(0, input.Enumerations);
    }

    [TestMethod]
    public void Stat_NullProbe_ThrowsArgumentNull()
    {
        var ex = Assert.ThrowsExactly<ArgumentNullException>(() => JobQueue.Stat(null!));

        Assert.AreEqual("probe", ex.ParamName);
    }

    [TestMethod]
    public async Task Run_ValidArguments_DoNotThrow()
    {
        // Counterpart of the checks above: the smallest valid values are accepted.
        var result = await JobQueue.RunAsync(Enumerable.Range(0, 5), Workers.Of<int>().Then(Identity, threads: 1), new JobOptions { QueueSize = 1, Timeout = TimeSpan.FromMinutes(1) }).Within();

        Assert.IsTrue(result.Completed);
    }

    private static void AssertThreadsRefused(ArgumentOutOfRangeException ex, string stage, string name)
    {
        Assert.AreEqual("threads", ex.ParamName);
        Assert.AreEqual(int.MaxValue, ex.ActualValue);
        Assert.Contains(stage, ex.Message);
        Assert.Contains(name, ex.Message);
        Assert.Contains(int.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message);
        Assert.Contains(JobOptions.MaxThreads.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message);
    }
}
