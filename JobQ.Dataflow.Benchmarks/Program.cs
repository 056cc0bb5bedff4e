using BenchmarkDotNet.Running;
using JobQ.Dataflow.Benchmarks.Infrastructure;

// Three doors: "--quick [--only NAME]" prints the side-by-side table; "--child NAME ARGS" is the hidden entry
// the quick mode uses to run a case in a fresh process; anything else goes to BenchmarkDotNet.
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
