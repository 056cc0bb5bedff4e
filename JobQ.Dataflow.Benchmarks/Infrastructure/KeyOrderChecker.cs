namespace JobQ.Dataflow.Benchmarks.Infrastructure;

/// <summary>
/// The dispatcher cases' worker: items are keyed <c>x % 8</c> and arrive in increasing order, so each key's items
/// must reach the worker in increasing order. It remembers the last item seen per key and counts violations and
/// items. Each key belongs to one partition, so no two threads write the same slot; slots sit on cache lines of their
/// own so partitions on different cores do not share lines.
/// </summary>
internal sealed class KeyOrderChecker
{
    /// <summary>The number of keys.</summary>
    public const int Keys = 8;

    private const int Pad = 16;

    private readonly int[] _last = Enumerable.Repeat(-1, Keys * Pad).ToArray();
    private readonly long[] _seen = new long[Keys * Pad];
    private int _violations;

    /// <summary>Gets the number of items that reached the worker after a later item of the same key.</summary>
    public int Violations => Volatile.Read(ref _violations);

    /// <summary>Gets the number of items the worker saw (read it after the run).</summary>
    public long Seen
    {
        get
        {
            long total = 0;
            for (var k = 0; k < Keys; k++)
            {
                total += _seen[k * Pad];
            }

            return total;
        }
    }

    /// <summary>The dispatcher: the item's key.</summary>
    /// <param name="x">The item.</param>
    /// <returns>x % 8.</returns>
    public static int Key(int x) => x % Keys;

    /// <summary>The worker: records the item under its key and counts it as a violation if it is not after the last one.</summary>
    /// <param name="x">The item.</param>
    public void Record(int x)
    {
        var slot = Key(x) * Pad;
        if (x <= _last[slot])
        {
            Interlocked.Increment(ref _violations);
        }

        _last[slot] = x;
        _seen[slot]++;
    }
}
