using BenchmarkDotNet.Running;
using JobQ.Dataflow.Benchmarks.Infrastructure;

// Three doors:
//   --quick [--only NAME]  every case side by side with its baseline, medians, as a markdown table on stdout
//                          (progress, per-run samples and breakdowns on stderr); NAME is one of the case groups.
//   --child NAME ARGS      hidden: the quick mode runs the fresh-process cases (blocking workers, peak memory) this way.
//   anything else          BenchmarkSwitcher over the [Benchmark] classes (MemoryDiagnoser), e.g. --filter *Chain*.
if (args.Length > 0 && args[0] == "--child")
{
    return ChildProcess.RunChild(args[1..]);
}

if (args.Length > 0 && args[0] == "--quick")
{
    var only = args.Length > 2 && args[1] == "--only" ? args[2] : null;
    return QuickRunner.Run(only);
}

BenchmarkSwitcher.FromAssembly(typeof(QuickRunner).Assembly).Run(args);
return 0;
