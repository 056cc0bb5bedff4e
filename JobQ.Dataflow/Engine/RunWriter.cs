namespace JobQ.Dataflow.Internal;

/// <summary>
/// Collects what one run's calls pass on, cut into runs of the length the next stage asks for
/// (<see cref="RunLength.Preferred"/>, read when each output run starts), so the next stage never waits for a run to
/// fill and never gets more than it can take at once.
/// </summary>
/// <typeparam name="T">The type of the outputs.</typeparam>
/// <remarks>Used by one run's processor only. A writer without a next stage (the last stage of a run, whose outputs
/// jobq throws away) keeps nothing.</remarks>
internal sealed class RunWriter<T> : IOutput<T>
{
    private static readonly ItemRun<T>[] None = [];

    // One writer kept per thread, so that a run costs no writer allocation; a run releases its writer when it ends.
    [ThreadStatic]
    private static RunWriter<T>? t_cached;

    // The array that carries a single output run back to a sync delegate's caller, kept per thread (see TakeAll).
    [ThreadStatic]
    private static ItemRun<T>[]? t_single;

    private RunLength? _next;
    private RunProgress _progress;
    private T[]? _current;
    private int _count;
    private int _size;
    private ItemRun<T> _first;
    private List<ItemRun<T>>? _more;
    private int _sealed;
    private int _sealedItems;

    /// <param name="next">The next stage's run length; null to keep nothing.</param>
    /// <param name="progress">The run's counts, for <see cref="Drop"/>.</param>
    public RunWriter(RunLength? next, RunProgress progress)
    {
        _next = next;
        _progress = progress;
    }

    /// <summary>Returns a writer for one run: the calling thread's spare one if it has one, else a new one.</summary>
    public static RunWriter<T> Rent(RunLength? next, RunProgress progress)
    {
        var writer = t_cached;
        if (writer is null)
        {
            return new RunWriter<T>(next, progress);
        }

        t_cached = null;
        writer._next = next;
        writer._progress = progress;
        writer._sealedItems = 0;
        return writer;
    }

    /// <summary>Keeps this writer for the calling thread's next run; it must hold nothing and not be used afterwards.</summary>
    public void Release()
    {
        _next = null;
        _progress = null!;
        t_cached = this;
    }

    /// <summary>Gets the number of items passed on so far.</summary>
    public int Written => _sealedItems + _count;

    /// <summary>Gets whether at least one output run is full and can be handed over before the call ends.</summary>
    public bool HasSealed => _sealed != 0;

    public void Add(T item)
    {
        if (_next is null)
        {
            return;
        }

        if (_current is null)
        {
            _size = _next.Preferred;
            _current = ItemRun<T>.Rent(_size);
        }

        _current[_count++] = item;
        if (_count == _size)
        {
            Seal();
        }
    }

    public void Drop() => _progress.Drop();

    /// <summary>Takes every output run, the partial last one included.</summary>
    /// <param name="sameThread">True when the caller returns the array to a sync Dataflow delegate's caller, which
    /// copies its runs into the block before the thread runs anything else: a single run then travels in an array kept
    /// per thread instead of a new one.</param>
    public ItemRun<T>[] TakeAll(bool sameThread = false)
    {
        if (_count != 0)
        {
            Seal();
        }

        return TakeSealed(sameThread);
    }

    /// <summary>Takes the full output runs only, leaving the partial one to fill.</summary>
    /// <param name="sameThread">See <see cref="TakeAll"/>.</param>
    public ItemRun<T>[] TakeSealed(bool sameThread = false)
    {
        switch (_sealed)
        {
            case 0:
                return None;
            case 1:
                _sealed = 0;
                if (sameThread)
                {
                    var single = t_single ??= new ItemRun<T>[1];
                    single[0] = _first;
                    return single;
                }

                return [_first];
            default:
                ItemRun<T>[] runs = [_first, .. _more!];
                _more!.Clear();
                _sealed = 0;
                return runs;
        }
    }

    /// <summary>Gives every array back to the pool: the outputs are discarded (the pipeline stopped).</summary>
    public void Discard()
    {
        foreach (var run in TakeAll())
        {
            run.Return();
        }
    }

    private void Seal()
    {
        var run = new ItemRun<T>(_current!, _count);
        _sealedItems += _count;
        if (_sealed++ == 0)
        {
            _first = run;
        }
        else
        {
            (_more ??= []).Add(run);
        }

        _current = null;
        _count = 0;
    }
}
