namespace JobQ.Dataflow.Tests.Support;

/// <summary>
/// A worker for block tests: every call first waits on a <see cref="Gate"/> (open unless the test holds it) and
/// is counted; it then returns its item, or throws for the items <see cref="Throws"/> picks.
/// </summary>
/// <remarks>
/// <see cref="Hold"/> is the item-blind part of a call (count, gate, optional jitter), for a block whose own worker
/// cannot be replaced but calls a hook of ours once per item (a speed limit's rate function).
/// </remarks>
internal sealed class GatedWorker
{
    private readonly Gate _gate = new();
    private int _calls;

    /// <summary>Initializes a new instance of the <see cref="GatedWorker"/> class.</summary>
    /// <param name="held">Whether calls wait at the gate until the test releases or opens it.</param>
    public GatedWorker(bool held = false)
    {
        if (!held)
        {
            _gate.Open();
        }
    }

    /// <summary>Gets the exception to throw for an item, or <see langword="null"/> to return it.</summary>
    public Func<int, Exception?>? Throws { get; init; }

    /// <summary>Gets whether each call spins a little, by an amount that varies from call to call, so that calls
    /// made in parallel finish out of order.</summary>
    public bool Jitter { get; init; }

    /// <summary>Gets the number of calls that began (reached the gate).</summary>
    public int Calls => _gate.Arrivals;

    /// <summary>Gets whether the worker's outcome depends on the item (it throws for some).</summary>
    public bool DependsOnItem => Throws is not null;

    /// <summary>The worker: waits at the gate, then throws or returns the item.</summary>
    public int Invoke(int item)
    {
        Hold();
        if (Throws?.Invoke(item) is { } exception)
        {
            throw exception;
        }

        return item;
    }

    /// <summary>The item-blind part of a call: counts it, waits at the gate, spins if <see cref="Jitter"/>.</summary>
    public void Hold()
    {
        var call = Interlocked.Increment(ref _calls);
        _gate.Pass();
        if (Jitter)
        {
            Thread.SpinWait((call * 7919 % 61) * 40);
        }
    }

    /// <summary>Waits (bounded) until at least <paramref name="calls"/> calls have begun.</summary>
    public void WaitCalls(int calls) =>
        Bounded.Until(() => Calls >= calls, $"{calls} worker call(s) to begin", () => $"{Calls} began");

    /// <summary>Lets every held call, and every later one, through.</summary>
    public void Open() => _gate.Open();
}
