namespace JobQ.Dataflow.Tests.Support;

/// <summary>Lock-free helpers for counters shared by concurrent workers in tests.</summary>
internal static class Atomic
{
    /// <summary>Raises <paramref name="target"/> to <paramref name="value"/> if it is lower, however many threads race.</summary>
    public static void Max(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
