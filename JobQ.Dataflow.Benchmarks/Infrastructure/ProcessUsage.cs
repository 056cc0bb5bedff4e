using System.Runtime.InteropServices;

namespace JobQ.Dataflow.Benchmarks.Infrastructure;

/// <summary>
/// CPU time and context switches of the whole process (threads that have ended included), from getrusage on Linux.
/// A cheap counter for "where does the time go": CPU spent per item, and how often threads parked and woke.
/// </summary>
internal static partial class ProcessUsage
{
    public static bool Available => OperatingSystem.IsLinux();

    public static (double CpuSeconds, long VoluntarySwitches, long InvoluntarySwitches) Read()
    {
        if (!Available || GetRusage(0, out var usage) != 0)
        {
            return (double.NaN, 0, 0);
        }

        var cpu = usage.UserSeconds + usage.SystemSeconds + ((usage.UserMicroseconds + usage.SystemMicroseconds) / 1e6);
        return (cpu, usage.VoluntarySwitches, usage.InvoluntarySwitches);
    }

    /// <summary>CPU seconds and voluntary / involuntary context switches of the process during <paramref name="run"/>.</summary>
    public static (double Cpu, long Voluntary, long Involuntary) Measure(Action run)
    {
        var before = Read();
        run();
        var after = Read();
        return (after.CpuSeconds - before.CpuSeconds,
            after.VoluntarySwitches - before.VoluntarySwitches,
            after.InvoluntarySwitches - before.InvoluntarySwitches);
    }

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRusage(int who, out Rusage usage);

    // struct rusage on 64-bit Linux: two timevals, then fourteen longs.
    [StructLayout(LayoutKind.Sequential)]
    private struct Rusage
    {
        public long UserSeconds;
        public long UserMicroseconds;
        public long SystemSeconds;
        public long SystemMicroseconds;
        public long MaxRss;
        public long IxRss;
        public long IdRss;
        public long IsRss;
        public long MinFlt;
        public long MajFlt;
        public long NSwap;
        public long InBlock;
        public long OuBlock;
        public long MsgSnd;
        public long MsgRcv;
        public long NSignals;
        public long VoluntarySwitches;
        public long InvoluntarySwitches;
    }
}
