using JobQ.Dataflow.Internal;

namespace JobQ.Dataflow.Tests.Support;

/// <summary>What tests can see of a thread that ran a worker call or read the input, once that work is over.</summary>
internal static class LaneThreads
{
    /// <summary>
    /// Whether <paramref name="thread"/> is done with the work it ran: it exited, it waits idle for the next task (a
    /// dedicated thread is kept for a while so that back-to-back runs need not create new ones), or it is a thread-pool
    /// thread (cheap calls run on the pool, which takes its threads back).
    /// </summary>
    public static bool IsDone(Thread thread) => !thread.IsAlive || thread.Name == DedicatedThread.IdleName || thread.IsThreadPoolThread;
}
