namespace JobQ.Dataflow.Tests.Support;

/// <summary>Bounded waits for tests: every wait fails the test after <see cref="Limit"/> instead of hanging.</summary>
internal static class Bounded
{
    /// <summary>
    /// The longest any single wait in a test may take. Passing tests wait milliseconds; the bound is generous
    /// because the first test in a process pays for JIT, on a small CI machine that may be busy with other builds.
    /// </summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a test watches for something that must not happen (a Put returning while the queue is full).
    /// A negative check, never used to wait for something: a longer value only makes the check stricter.
    /// </summary>
    public static readonly TimeSpan Watch = TimeSpan.FromMilliseconds(300);

    /// <summary>Awaits <paramref name="task"/> for at most <see cref="Limit"/>.</summary>
    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Limit);

    /// <summary>Awaits <paramref name="task"/> for at most <see cref="Limit"/>.</summary>
    public static Task Within(this Task task) => task.WaitAsync(Limit);

    /// <summary>Polls <paramref name="condition"/> (spinning, then yielding) until it holds; fails the test after <see cref="Limit"/>.</summary>
    public static void Until(Func<bool> condition, string what)
    {
        if (!SpinWait.SpinUntil(condition, Limit))
        {
            Assert.Fail($"Timed out after {Limit.TotalSeconds} s waiting for: {what}");
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; on timeout fails with <paramref name="describe"/>'s account of the state.</summary>
    public static void Until(Func<bool> condition, string what, Func<string> describe)
    {
        if (!SpinWait.SpinUntil(condition, Limit))
        {
            Assert.Fail($"Timed out after {Limit.TotalSeconds} s waiting for: {what}; state: {describe()}");
        }
    }

    /// <summary>Polls <paramref name="condition"/> (spinning, then yielding) and returns whether it came to hold within <paramref name="bound"/>.</summary>
    public static bool TryUntil(Func<bool> condition, TimeSpan bound) => SpinWait.SpinUntil(condition, bound);

    /// <summary>Waits for one signal of <paramref name="semaphore"/>; fails the test after <see cref="Limit"/>.</summary>
    public static void Take(SemaphoreSlim semaphore, string what)
    {
        if (!semaphore.Wait(Limit))
        {
            Assert.Fail($"Timed out after {Limit.TotalSeconds} s waiting for: {what}");
        }
    }

    /// <summary>Runs the blocking <see cref="JobQueue.Run{TIn, TOut}(IEnumerable{TIn}, Workers{TIn, TOut}, JobOptions)"/> family on the pool, bounded.</summary>
    public static Task<JobRunResult> RunBlocking(Func<JobRunResult> run) => Task.Run(run).WaitAsync(Limit);
}
