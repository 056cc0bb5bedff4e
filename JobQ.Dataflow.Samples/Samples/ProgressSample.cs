using System.Diagnostics;
using Spectre.Console;

namespace JobQ.Dataflow.Samples;

/// <summary>
/// A live progress line fed by <see cref="JobOptions.Progress"/>: the run sends a <see cref="JobStats"/> snapshot every
/// <see cref="JobOptions.ProgressInterval"/> (100 ms here) and once at the end. On a terminal it drives a progress bar;
/// elsewhere (a file, a pipe, a test) it prints one line per snapshot.
/// </summary>
public sealed class ProgressSample : ISample
{
    /// <summary>The number of images the sample processes.</summary>
    public const int Images = 60;

    /// <inheritdoc/>
    public string Name => "progress";

    /// <inheritdoc/>
    public string Description => "A live progress bar (or progress lines when not on a terminal) fed by JobOptions.Progress every 100 ms.";

    /// <inheritdoc/>
    public bool IsSynopsis => false;

    /// <inheritdoc/>
    public async Task RunAsync(TextWriter output, CancellationToken cancellationToken = default)
    {
        var console = SampleConsole.For(output);
        var workers = Workers.Of<int>()
            .Then(DownloadAsync, threads: 4, name: "download")
            .Then(Resize, threads: 2, name: "resize");
        var started = Stopwatch.GetTimestamp();
        JobRunResult result;

        if (SampleConsole.IsLive(console))
        {
            result = await console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async ctx =>
                {
                    var bar = ctx.AddTask("images", maxValue: Images);
                    var progress = new ProgressReceiver(stats => bar.Value = stats.Stages[^1].Out);
                    var options = new JobOptions { Progress = progress, ProgressInterval = TimeSpan.FromMilliseconds(100) };
                    var done = await JobQueue.RunAsync(Enumerable.Range(1, Images), workers, options, cancellationToken);
                    bar.Value = done.Stats.Stages[^1].Out;
                    return done;
                });
        }
        else
        {
            // Not a terminal: a line per snapshot. Snapshots come from a timer thread; the lock keeps lines whole, and
            // a snapshot that arrives after the summary below is not printed.
            var gate = new Lock();
            var closed = false;
            var progress = new ProgressReceiver(stats =>
            {
                lock (gate)
                {
                    if (!closed)
                    {
                        console.WriteLine(ProgressLine(stats));
                    }
                }
            });
            var options = new JobOptions { Progress = progress, ProgressInterval = TimeSpan.FromMilliseconds(100) };
            result = await JobQueue.RunAsync(Enumerable.Range(1, Images), workers, options, cancellationToken);
            lock (gate)
            {
                closed = true;
            }
        }

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        console.WriteLine($"done: {result.Stats.Stages[^1].Out} of {Images} images in {seconds:F1} s");
    }

    /// <summary>One progress line: images resized so far, and what each stage is doing.</summary>
    /// <param name="stats">A snapshot from <see cref="JobOptions.Progress"/>.</param>
    /// <returns>For example <c>progress:  24/60 images ( 40%)  download: 4 in progress  resize: 1 in progress</c>.</returns>
    public static string ProgressLine(JobStats stats)
    {
        ArgumentNullException.ThrowIfNull(stats);
        var done = stats.Stages[^1].Out;
        var stages = string.Join("  ", stats.Stages.Select(s => $"{s.Name}: {s.Doing} in progress"));
        return $"progress: {done,3}/{Images} images ({done * 100 / Images,3}%)  {stages}";
    }

    private static async Task<int> DownloadAsync(int image, CancellationToken cancellationToken)
    {
        await Task.Delay(30, cancellationToken); // stands for an HTTP download
        return image;
    }

    private static int Resize(int image)
    {
        Thread.Sleep(5); // workload: stands for resizing the image
        return image;
    }

    /// <summary>
    /// Calls a handler with each snapshot, on the thread that reports it. (<see cref="Progress{T}"/> would post each
    /// snapshot to the thread pool instead, where two can run at once and arrive out of order.)
    /// </summary>
    private sealed class ProgressReceiver(Action<JobStats> handler) : IProgress<JobStats>
    {
        public void Report(JobStats value) => handler(value);
    }
}
