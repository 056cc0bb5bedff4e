using JobQ.Dataflow.Internal;

namespace JobQ.Dataflow.Tests.Support;

/// <summary>What tests can see of a lane's or input reader's dedicated thread once its work is over.</summary>
internal static class LaneThreads
{
    /// <summary>
    /// Whether <paramref name="thread"/> is done with the work it ran: it exited, or it waits idle for the next run's
    /// work (threads are kept for a while so that back-to-back runs need not create new ones).
    /// </summary>
    public static bool IsDone(Thread thread) => !thread.IsAlive || thread.Name == DedicatedThread.IdleName;
}
