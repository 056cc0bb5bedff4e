using System.Diagnostics;
using System.Globalization;
using JobQ.Dataflow.Benchmarks.Cases;

namespace JobQ.Dataflow.Benchmarks.Infrastructure;

/// <summary>
/// Runs one case in a fresh process. The thread pool grows during a process and never forgets it, so a case that
/// depends on how many threads exist at its start (blocking workers) or on the process's peak memory must be the
/// only thing its process has done.
/// </summary>
internal static class ChildProcess
{
    private const string ResultPrefix = "RESULT ";

    private static readonly Dictionary<string, Func<string[], double>> Children = new()
    {
        ["sleep-ours"] = BlockingCases.OursChild,
        ["sleep-dataflow"] = BlockingCases.DataflowChild,
        ["memory"] = MemoryCases.Child,
        ["cold-chain"] = ColdChain,
    };

    /// <summary>Launches this executable with <c>--child</c> and returns the number the child printed.</summary>
    public static double Launch(params string[] args)
    {
        var path = Environment.ProcessPath ?? throw new InvalidOperationException("No process path.");
        var info = new ProcessStartInfo(path) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(path) == "dotnet")
        {
            // Started as "dotnet X.dll": the child needs the dll too.
            info.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        }

        info.ArgumentList.Add("--child");
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the child.");
        var output = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill();
            throw new TimeoutException($"Child {string.Join(' ', args)} did not finish.");
        }

        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith(ResultPrefix, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"Child {string.Join(' ', args)} printed no result (exit {process.ExitCode}): {output}");
        return double.Parse(line.AsSpan(ResultPrefix.Length).Trim(), CultureInfo.InvariantCulture);
    }

    /// <summary>The child side: runs the named case and prints its result.</summary>
    public static int RunChild(string[] args)
    {
        var value = Children[args[0]](args[1..]);
        Console.WriteLine(ResultPrefix + value.ToString("R", CultureInfo.InvariantCulture));
        return 0;
    }

    /// <summary>
    /// Diagnostic only (not in the table): the 1M chain run several times from a cold process, each time printed on
    /// stderr, to see the first runs' cost (JIT tiering) apart. Try it with DOTNET_TieredCompilation=0 to compare.
    /// </summary>
    private static double ColdChain(string[] args)
    {
        foreach (var warmUp in args.Skip(1))
        {
            // e.g. "ours-small" or "dataflow-small": what ran before the measured runs.
            _ = warmUp == "dataflow-small" ? Chains.Dataflow(100_000, 4, ordered: true) : Chains.Ours(100_000, 4, keepOrder: true);
        }

        var times = Enumerable.Range(0, Int(args[0])).Select(_ => Measure.Seconds(WatchedChain)).ToArray();
        Console.Error.WriteLine($"      cold-chain 1M runs: [{string.Join(", ", times.Select(t => t.ToString("F3", CultureInfo.InvariantCulture)))}] s");
        return times[0];
    }

    // The 1M chain with a watcher: every 100 ms, items in so far and the process's CPU time, printed if the run is
    // slow, to tell a stalled engine (CPU spent, no items) from a starved process (neither moves).
    private static void WatchedChain()
    {
        var probe = new Probe();
        var sum = new Summer();
        var trace = new List<string>();
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        using var done = new ManualResetEventSlim();
        var watcher = new Thread(() =>
        {
            while (!done.Wait(100))
            {
                var (cpu, voluntary, involuntary) = ProcessUsage.Read();
                trace.Add(string.Create(CultureInfo.InvariantCulture, $"{System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds:F0} ms: in {JobQueue.Stat(probe).In}, cpu {cpu:F3} s, switches {voluntary}/{involuntary}"));
            }
        });
        watcher.Start();
        JobQueue.Run(Enumerable.Range(0, 1_000_000), Chains.OursWorkers(1, sum), probe: probe);
        done.Set();
        watcher.Join();
        Chains.Check(sum.Total, 1_000_000);
        if (System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds > 0.5)
        {
            Console.Error.WriteLine("      slow run: " + string.Join("; ", trace));
        }
    }

    public static int Int(string text) => int.Parse(text, CultureInfo.InvariantCulture);
}
