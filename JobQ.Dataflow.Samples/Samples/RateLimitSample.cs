using System.Diagnostics;
using Spectre.Console;

namespace JobQ.Dataflow.Samples;

/// <summary>
/// A rate-limited client: requests go through a <see cref="JobQueue.LimitJobSpeed(Func{double}, int)"/> stage
/// whose rate is read from a function before every item. The fake server answers "429 Too Many Requests"
/// after a while, and the client lowers the rate mid-run; the achieved rates are printed.
/// </summary>
public sealed class RateLimitSample : ISample
{
    /// <summary>The rate the client starts at, in requests per second.</summary>
    public const double StartRate = 300;

    /// <summary>The rate the client backs off to when the server says 429.</summary>
    public const double BackOffRate = 200;

    private const int Requests = 300;
    private const int ServerThrottlesAfter = 150;

    /// <inheritdoc/>
    public string Name => "rate-limit";

    /// <inheritdoc/>
    public string Description => $"A client paced by LimitJobSpeed: {StartRate}/s, lowered to {BackOffRate}/s mid-run when the server answers 429.";

    /// <inheritdoc/>
    public bool IsSynopsis => false;

    /// <inheritdoc/>
    public async Task RunAsync(TextWriter output, CancellationToken cancellationToken = default)
    {
        var console = SampleConsole.For(output);
        var rate = StartRate;
        var served = 0;
        var sentAt = new long[Requests];
        var backOffAt = 0L;

        // The limit reads the rate before every item, so a change takes effect with the next request.
        var limit = JobQueue.LimitJobSpeed(() => Volatile.Read(ref rate));

        async Task<int> SendAsync(int request, CancellationToken ct)
        {
            sentAt[request] = Stopwatch.GetTimestamp();
            await Task.Yield(); // stands for the HTTP call
            if (Interlocked.Increment(ref served) == ServerThrottlesAfter && Volatile.Read(ref rate) != BackOffRate)
            {
                // 429 Too Many Requests: back off. Every later request is paced at the new rate.
                Interlocked.Exchange(ref backOffAt, Stopwatch.GetTimestamp());
                Volatile.Write(ref rate, BackOffRate);
            }

            return request;
        }

        // The limit's pacing window opens when the first request reaches it; time the phases from just before.
        var start = 0L;
        void Queue(int request) => Interlocked.CompareExchange(ref start, Stopwatch.GetTimestamp(), 0);

        var probe = new Probe();
        var workers = Workers.Of<int>().Then(Queue, name: "queue").Then(limit, name: "limit").Then(SendAsync, threads: 8, name: "send");
        var run = JobQueue.RunAsync(Enumerable.Range(0, Requests), workers, new JobOptions { Probe = probe }, cancellationToken);
        await ProgressDisplay.FollowAsync(console, run, "requests", Requests, () => JobQueue.Stat(probe).Stages[^1].Out);
        await run;

        var switchAt = Interlocked.Read(ref backOffAt);
        var before = sentAt.Where(t => t < switchAt).ToArray();
        var after = sentAt.Where(t => t >= switchAt).ToArray();
        var end = sentAt.Max();

        var table = new Table().Border(TableBorder.Rounded).Title("Achieved rate");
        table.AddColumn("Phase");
        table.AddColumn(new TableColumn("Limit/s").RightAligned());
        table.AddColumn(new TableColumn("Requests").RightAligned());
        table.AddColumn(new TableColumn("Seconds").RightAligned());
        table.AddColumn(new TableColumn("Achieved/s").RightAligned());
        AddRow(table, "before 429", $"{StartRate:F0}", before.Length, Seconds(start, before.Max()));
        AddRow(table, "after 429", $"{BackOffRate:F0}", after.Length, Seconds(switchAt, end));
        AddRow(table, "whole run", $"{BackOffRate:F0} at the end", Requests, Seconds(start, end));
        console.Write(table);
        console.WriteLine("A new rate applies from the moment the limit reads it: the pacing window restarts, so lowering the rate never stalls and raising it never bursts.");
    }

    private static double Seconds(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalSeconds;

    private static void AddRow(Table table, string phase, string limit, int requests, double seconds)
        => table.AddRow(phase, limit, $"{requests}", $"{seconds:F2}", $"{requests / seconds:F1}");
}
