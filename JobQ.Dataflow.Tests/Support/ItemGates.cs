namespace JobQ.Dataflow.Tests.Support;

/// <summary>
/// A worker whose calls are cheap for some items and held, each on its own gate, for the others; it counts calls
/// begun and in progress. Used to let a worker learn long runs of cheap items and then hold it in the middle of one.
/// </summary>
internal sealed class ItemGates(int size, Func<int, bool> isHeld)
{
    private readonly ManualResetEventSlim[] _gates = [.. Enumerable.Range(0, size).Select(_ => new ManualResetEventSlim())];
    private int _entered;
    private int _current;

    public int Entered => Volatile.Read(ref _entered);

    public int Current => Volatile.Read(ref _current);

    public int Work(int item)
    {
        Interlocked.Increment(ref _entered);
        Interlocked.Increment(ref _current);
        try
        {
            if (isHeld(item) && !_gates[item].Wait(Bounded.Limit))
            {
                throw new TimeoutException($"The gate of item {item} stayed closed.");
            }

            return item;
        }
        finally
        {
            Interlocked.Decrement(ref _current);
        }
    }

    public void Release(int item) => _gates[item].Set();

    public void OpenAll()
    {
        foreach (var gate in _gates)
        {
            gate.Set();
        }
    }
}
