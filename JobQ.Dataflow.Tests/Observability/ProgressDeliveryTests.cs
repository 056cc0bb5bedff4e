namespace JobQ.Dataflow.Tests.Observability;

/// <summary>When does the last <see cref="JobOptions.Progress"/> snapshot arrive relative to the end of the run?</summary>
[TestClass]
public sealed class ProgressDeliveryTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task RunAsync_WithProgress_ReturnsOnlyAfterTheFinalSnapshotWasDelivered()
    {
        var finalEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var release = new ManualResetEventSlim();
        var progress = new Receiver(stats =>
        {
            if (stats.Stages[^1].Out == 3)
            {
                // Hold the end-of-run snapshot in the receiver.
                finalEntered.TrySetResult();
                release.Wait(Bound);
            }
        });
        var options = new JobOptions { Progress = progress, ProgressInterval = TimeSpan.FromHours(1) };

        var run = JobQueue.RunAsync([1, 2, 3], Workers.Of<int>().Then(x => x), options);
        try
        {
            await finalEntered.Task.WaitAsync(Bound);

            // The final snapshot is still being delivered, so the run must not have returned; a progress bar drawn from
            // the snapshots would otherwise show less than the run did after the caller moved on.
            // (A bounded wait for something that must not happen; nothing is synchronised on it.)
            var returned = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(1))) == run;
            Assert.IsFalse(returned, "RunAsync returned while its final progress snapshot was still being delivered");
        }
        finally
        {
            release.Set();
            await run.WaitAsync(Bound);
        }
    }

    private sealed class Receiver(Action<JobStats> handler) : IProgress<JobStats>
    {
        public void Report(JobStats value) => handler(value);
    }
}
