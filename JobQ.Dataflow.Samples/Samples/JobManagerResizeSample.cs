using System.Diagnostics;
using Spectre.Console;

namespace JobQ.Dataflow.Samples;

/// <summary>
/// A <see cref="JobManager{TIn, TOut}"/> fed by a producer task while it runs: the producer puts items (held
/// back by a small queue), grows the slow stage from 1 to 4 workers, then shrinks it to 2, printing the
/// manager's statistics as it goes.
/// </summary>
public sealed class JobManagerResizeSample : ISample
{
    /// <summary>The worker counts the slow stage goes through, one per phase.</summary>
    public static readonly IReadOnlyList<int> Phases = [1, 4, 2];

    private const int ItemsPerPhase = 120;
    private const int RowEvery = 40;

    /// <inheritdoc/>
    public string Name => "job-manager";

    /// <inheritdoc/>
    public string Description => "A JobManager fed by a producer and resized while it runs (1 -> 4 -> 2 workers), with live stats.";

    /// <inheritdoc/>
    public bool IsSynopsis => false;

    /// <inheritdoc/>
    public async Task RunAsync(TextWriter output, CancellationToken cancellationToken = default)
    {
        var console = SampleConsole.For(output);
        var done = 0;

        void Store(int item) => Interlocked.Increment(ref done);

        // A small queue makes the producer wait for the workers, so a resize shows in the rate at once.
        await using var jm = JobManager.Create(
            Workers.Of<int>().Then(Resize, threads: Phases[0]).Then(Store),
            queueSize: 8);

        var rows = new List<string[]>();
        var last = Stopwatch.GetTimestamp();
        var lastOut = 0L;

        // Called by the producer as it goes; the rows are read by the display under the same lock.
        void AddStatsRow(int put)
        {
            var stats = jm.Stat();
            var slow = stats.Stages[0];
            var now = Stopwatch.GetTimestamp();
            var rate = (slow.Out - lastOut) / Stopwatch.GetElapsedTime(last, now).TotalSeconds;
            (last, lastOut) = (now, slow.Out);
            lock (rows)
            {
                rows.Add([$"{put}", $"{slow.WorkerCount}", $"{slow.In}", $"{slow.Out}", $"{slow.Doing}", $"{slow.Input.Size}/{slow.Input.Capacity}", $"{rate:F0}"]);
            }
        }

        Table Render()
        {
            var table = new Table().Border(TableBorder.Rounded).Title("JobManager.Stat() of the resized stage while it runs");
            foreach (var column in new[] { "Put", "Workers", "In", "Out", "Doing", "Queue", "Items/s" })
            {
                table.AddColumn(new TableColumn(column).RightAligned());
            }

            lock (rows)
            {
                foreach (var row in rows)
                {
                    table.AddRow(row);
                }
            }

            return table;
        }

        var producer = Task.Run(
            async () =>
            {
                var put = 0;
                foreach (var workers in Phases)
                {
                    jm.SetThreadNum(Resize, workers);
                    for (var i = 0; i < ItemsPerPhase; i++)
                    {
                        await jm.PutAsync(put++, cancellationToken);
                        if (put % RowEvery == 0)
                        {
                            AddStatsRow(put);
                        }
                    }
                }
            },
            cancellationToken);

        await LiveView.FollowAsync(console, producer, Render);
        await producer;
        var finished = await jm.JoinAsync(TimeSpan.FromSeconds(30), cancellationToken);
        var slowStage = jm.Stat().Stages[0];
        console.WriteLine($"joined: {(finished ? "all done" : "timed out")}; {Volatile.Read(ref done)} of {ItemsPerPhase * Phases.Count} items processed");
        console.WriteLine($"stage {slowStage.Name}: in {slowStage.In}, out {slowStage.Out}, failed {slowStage.Failed}, workers now {slowStage.WorkerCount}");
    }

    // A slow, blocking worker: each sync worker has its own thread, so 4 workers really do 4 at a time.
    private static int Resize(int item)
    {
        Thread.Sleep(2);
        return item;
    }
}
