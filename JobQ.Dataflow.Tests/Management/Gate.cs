namespace JobQ.Dataflow.Tests.Management;

/// <summary>
/// A gate that worker calls wait on: closed until the test lets a number of calls through or opens it for good.
/// Every wait is bounded by <see cref="Bound"/>, so a test that forgets to open it fails instead of hanging.
/// </summary>
internal sealed class Gate
{
    /// <summary>The longest any test waits for anything.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    /// <summary>
    /// How long a test watches for something that must not happen (a Put returning while the queue is full).
    /// A negative check, never used to wait for something: a longer value only makes the check stricter.
    /// </summary>
    public static readonly TimeSpan Watch = TimeSpan.FromMilliseconds(300);

    private readonly SemaphoreSlim _permits = new(0);
    private volatile bool _open;

    public bool IsOpen => _open;

    /// <summary>Waits (blocking) until the gate lets this call through.</summary>
    public void Pass()
    {
        if (_open)
        {
            return;
        }

        if (!_permits.Wait(Bound))
        {
            throw new TimeoutException("The gate stayed closed.");
        }
    }

    /// <summary>Waits (asynchronously) until the gate lets this call through.</summary>
    public async Task PassAsync()
    {
        if (_open)
        {
            return;
        }

        if (!await _permits.WaitAsync(Bound).ConfigureAwait(false))
        {
            throw new TimeoutException("The gate stayed closed.");
        }
    }

    /// <summary>Lets <paramref name="calls"/> waiting (or future) calls through.</summary>
    public void Release(int calls) => _permits.Release(calls);

    /// <summary>Opens the gate for good, releasing every call waiting now.</summary>
    public void Open()
    {
        _open = true;
        _permits.Release(10_000);
    }
}
