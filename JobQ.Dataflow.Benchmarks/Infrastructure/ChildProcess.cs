using System.Diagnostics;
using System.Globalization;
using JobQ.Dataflow.Benchmarks.Cases;

namespace JobQ.Dataflow.Benchmarks.Infrastructure;

/// <summary>
/// Runs one case in a fresh process. The thread pool grows during a process and never forgets it, and a process's
/// peak memory is whatever it ever did, so a case that depends on either must be the only thing its process has
/// done. The child is this executable started with <c>--child NAME ARGS</c>; it prints one line
/// <c>RESULT v1 v2 ...</c>, and whatever else it writes on stderr reaches the parent's stderr.
/// </summary>
internal static class ChildProcess
{
    private const string ResultPrefix = "RESULT ";

    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    private static readonly Dictionary<string, Func<string[], double[]>> Children = new()
    {
        ["noop"] = _ => [0],
        ["sleep"] = BlockingSleepCase.Child,
        ["memory"] = MemoryCase.Child,
        ["async-scale"] = AsyncScaleCase.Child,
    };

    /// <summary>Launches this executable with <c>--child</c> and the arguments, and returns the numbers it printed.</summary>
    /// <param name="args">The child's name, then its arguments.</param>
    /// <returns>The child's result values.</returns>
    public static double[] Launch(params string[] args)
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
        var reading = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(Bound))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"Child {string.Join(' ', args)} did not finish within {Bound}.");
        }

        var output = reading.GetAwaiter().GetResult();
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith(ResultPrefix, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"Child {string.Join(' ', args)} printed no result (exit {process.ExitCode}): {output}");
        return line[ResultPrefix.Length..]
            .Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(v => double.Parse(v, CultureInfo.InvariantCulture))
            .ToArray();
    }

    /// <summary>The child side: runs the named case and prints its result line.</summary>
    /// <param name="args">The child's name, then its arguments.</param>
    /// <returns>The process exit code.</returns>
    public static int RunChild(string[] args)
    {
        if (args.Length == 0 || !Children.TryGetValue(args[0], out var child))
        {
            Console.Error.WriteLine($"Unknown child. Children: {string.Join(", ", Children.Keys)}.");
            return 1;
        }

        var values = child(args[1..]);
        Console.WriteLine(ResultPrefix + string.Join(' ', values.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        return 0;
    }

    /// <summary>Parses an integer argument of a child.</summary>
    /// <param name="text">The argument.</param>
    /// <returns>Its value.</returns>
    public static int Int(string text) => int.Parse(text, CultureInfo.InvariantCulture);

    /// <summary>Formats an integer argument for a child.</summary>
    /// <param name="value">The value.</param>
    /// <returns>Its text.</returns>
    public static string Arg(int value) => value.ToString(CultureInfo.InvariantCulture);
}
