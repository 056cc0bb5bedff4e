namespace JobQ.Dataflow.Tests.Support;

/// <summary>
/// Holds worker calls until the test lets some through (<see cref="Release"/>) or opens it for good
/// (<see cref="Open"/>), and counts the calls that arrived, so a test knows how many workers are held without
/// sleeping. A held call gives up after twice <see cref="Bounded.Limit"/> so no thread is left blocked if a test fails.
/// </summary>
internal sealed class Gate : IDisposable
{
    private static readonly TimeSpan HoldLimit = Bounded.Limit * 2;

    private readonly CancellationTokenSource _open = new();
    private readonly SemaphoreSlim _permits = new(0);
    private readonly SemaphoreSlim _arrived = new(0);
    private int _arrivals;

    /// <summary>Gets the number of calls that reached the gate so far.</summary>
    public int Arrivals => Volatile.Read(ref _arrivals);

    /// <summary>Gets whether the gate was opened for good.</summary>
    public bool IsOpen => _open.IsCancellationRequested;

    /// <summary>Called by a sync worker: records the arrival and blocks until the gate lets it through (bounded).</summary>
    /// <remarks>Held calls outlast any test wait, so a test that times out still sees the pipeline as it was stuck.</remarks>
    public void Pass()
    {
        Arrive();
        if (IsOpen)
        {
            return;
        }

        try
        {
            _permits.Wait(HoldLimit, _open.Token);
        }
        catch (OperationCanceledException)
        {
            // Opened while held.
        }
    }

    /// <summary>Called by an async worker: records the arrival and waits until the gate lets it through (bounded).</summary>
    /// <remarks>Held calls outlast any test wait, as with <see cref="Pass"/>.</remarks>
    public async Task PassAsync()
    {
        Arrive();
        if (IsOpen)
        {
            return;
        }

        try
        {
            await _permits.WaitAsync(HoldLimit, _open.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Opened while held.
        }
    }

    /// <summary>Waits until <paramref name="count"/> more calls have arrived; fails the test after the bound.</summary>
    public void WaitArrivals(int count)
    {
        for (var i = 0; i < count; i++)
        {
            Bounded.Take(_arrived, $"call {i + 1} of {count} to reach the gate");
        }
    }

    /// <summary>Lets <paramref name="calls"/> held (or later) calls through, one each.</summary>
    public void Release(int calls) => _permits.Release(calls);

    /// <summary>Lets every held call, and every later one, through.</summary>
    public void Open() => _open.Cancel();

    public void Dispose()
    {
        _open.Cancel();
        _open.Dispose();
        _permits.Dispose();
        _arrived.Dispose();
    }

    private void Arrive()
    {
        Interlocked.Increment(ref _arrivals);
        _arrived.Release();
    }
}
