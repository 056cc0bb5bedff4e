namespace JobQ.Dataflow.Internal;

/// <summary>An intrusive FIFO of waiters. Not thread-safe: its owner guards it with its own lock.</summary>
internal sealed class WaiterList
{
    private Waiter? _head;
    private Waiter? _tail;

    /// <summary>Gets the number of listed waiters; written under the owner's lock, read anywhere as a hint.</summary>
    public int Count { get; private set; }

    public void Enqueue(Waiter waiter)
    {
        waiter.Next = null;
        if (_tail is null)
        {
            _head = waiter;
        }
        else
        {
            _tail.Next = waiter;
        }

        _tail = waiter;
        Count++;
    }

    public Waiter? Dequeue()
    {
        var waiter = _head;
        if (waiter is null)
        {
            return null;
        }

        _head = waiter.Next;
        if (_head is null)
        {
            _tail = null;
        }

        waiter.Next = null;
        Count--;
        return waiter;
    }

    /// <summary>Unlinks <paramref name="waiter"/> if it is listed here; O(n), for the rare cancelled wait.</summary>
    public bool Remove(Waiter waiter)
    {
        Waiter? previous = null;
        for (var w = _head; w is not null; previous = w, w = w.Next)
        {
            if (!ReferenceEquals(w, waiter))
            {
                continue;
            }

            if (previous is null)
            {
                _head = w.Next;
            }
            else
            {
                previous.Next = w.Next;
            }

            if (ReferenceEquals(_tail, w))
            {
                _tail = previous;
            }

            w.Next = null;
            Count--;
            return true;
        }

        return false;
    }

    /// <summary>Unlinks every waiter and returns them as a chain (linked by <see cref="Waiter.Next"/>) to signal outside the lock.</summary>
    public Waiter? DequeueAll()
    {
        var head = _head;
        _head = _tail = null;
        Count = 0;
        return head;
    }

    /// <summary>Signals a chain returned by <see cref="DequeueAll"/>.</summary>
    public static void SignalChain(Waiter? chain)
    {
        while (chain is not null)
        {
            var next = chain.Next;
            chain.Next = null;
            chain.Signal();
            chain = next;
        }
    }
}
