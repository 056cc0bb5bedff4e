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
        ["cold-chain"] = ColdChainDiagnostics.Child,
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

    public static int Int(string text) => int.Parse(text, CultureInfo.InvariantCulture);
}
