using System.Diagnostics;

namespace JobQ.Dataflow.Tests.Management;

/// <summary>Bounded polling of a condition that another thread makes true (never a fixed sleep).</summary>
internal static class Poll
{
    /// <summary>Returns as soon as <paramref name="condition"/> holds; fails the test if it does not within <see cref="Gate.Bound"/>.</summary>
    public static void Until(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        var spin = default(SpinWait);
        while (!condition())
        {
            if (clock.Elapsed > Gate.Bound)
            {
                Assert.Fail($"Timed out after {Gate.Bound.TotalSeconds} s waiting until {what}.");
            }

            spin.SpinOnce();
        }
    }

    /// <summary>Returns whether <paramref name="condition"/> came to hold within <paramref name="bound"/>.</summary>
    public static bool TryUntil(Func<bool> condition, TimeSpan bound)
    {
        var clock = Stopwatch.StartNew();
        var spin = default(SpinWait);
        while (!condition())
        {
            if (clock.Elapsed > bound)
            {
                return false;
            }

            spin.SpinOnce();
        }

        return true;
    }
}
