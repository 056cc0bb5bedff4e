namespace JobQ.Dataflow.Tests.Support;

/// <summary>
/// Holds worker calls until the test opens it, and counts the calls that arrived, so a test knows how many
/// workers are held without sleeping. A held call gives up after <see cref="Bounded.Limit"/> so no thread is
/// left blocked if a test fails.
/// </summary>
internal sealed class Gate : IDisposable
{
    private static readonly TimeSpan HoldLimit = Bounded.Limit * 2;

    private readonly ManualResetEventSlim _open = new(false);
    private readonly SemaphoreSlim _arrived = new(0);
    private int _arrivals;

    /// <summary>Gets the number of calls that reached the gate so far.</summary>
    public int Arrivals => Volatile.Read(ref _arrivals);

    /// <summary>Called by a sync worker: records the arrival and blocks until the gate opens (bounded).</summary>
    /// <remarks>Held calls outlast any test wait, so a test that times out still sees the pipeline as it was stuck.</remarks>
    public void Pass()
    {
        Interlocked.Increment(ref _arrivals);
        _arrived.Release();
        _open.Wait(HoldLimit);
    }

    /// <summary>Waits until <paramref name="count"/> more calls have arrived; fails the test after the bound.</summary>
    public void WaitArrivals(int count)
    {
        for (var i = 0; i < count; i++)
        {
            Bounded.Take(_arrived, $"call {i + 1} of {count} to reach the gate");
        }
    }

    /// <summary>Lets every held call, and every later one, through.</summary>
    public void Open() => _open.Set();

    public void Dispose()
    {
        _open.Set();
        _open.Dispose();
        _arrived.Dispose();
    }
}
