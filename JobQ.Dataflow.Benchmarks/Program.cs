using BenchmarkDotNet.Running;
using JobQ.Dataflow.Benchmarks.Infrastructure;

// Three doors:
//   --quick [--only SUBSTRING] [--out FILE]  every case side by side with its baseline(s), medians of alternating
//                                            runs, one markdown table on stdout (and in FILE); progress and raw
//                                            samples on stderr. SUBSTRING selects the cases whose name contains it.
//   --quick --smoke                          hidden: every size / 100, at most 2 samples: checks that all cases work.
//   --child NAME ARGS                        hidden: the quick mode runs its fresh-process cases this way.
//   anything else                            BenchmarkSwitcher over the [Benchmark] classes, e.g. --filter '*'.
if (args.Length > 0 && args[0] == "--child")
{
    return ChildProcess.RunChild(args[1..]);
}

if (args.Contains("--quick"))
{
    var settings = QuickSettings.Parse(args);
    return settings is null ? 2 : QuickRunner.Run(settings);
}

BenchmarkSwitcher.FromAssembly(typeof(QuickRunner).Assembly).Run(args);
return 0;
