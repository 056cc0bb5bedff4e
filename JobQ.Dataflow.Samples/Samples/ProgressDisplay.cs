using Spectre.Console;

namespace JobQ.Dataflow.Samples;

/// <summary>A progress bar that follows a running task by polling a count, drawn only on a live terminal.</summary>
public static class ProgressDisplay
{
    /// <summary>Shows a progress bar of <paramref name="read"/> against <paramref name="total"/> until <paramref name="run"/> completes.</summary>
    /// <param name="console">The console; on a non-interactive one nothing is drawn.</param>
    /// <param name="run">The work to follow; its outcome is not observed here.</param>
    /// <param name="label">The bar's label.</param>
    /// <param name="total">The count at completion.</param>
    /// <param name="read">Reads the current count (for example from <see cref="JobQueue.Stat(Probe)"/>).</param>
    /// <returns>A task that completes when <paramref name="run"/> does.</returns>
    public static async Task FollowAsync(IAnsiConsole console, Task run, string label, double total, Func<double> read)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(read);
        if (!SampleConsole.IsLive(console))
        {
            await Task.WhenAny(run);
            return;
        }

        await console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(label, maxValue: total);
                while (!run.IsCompleted)
                {
                    task.Value = read();
                    await Task.WhenAny(run, Task.Delay(100));
                }

                task.Value = read();
            });
    }
}
