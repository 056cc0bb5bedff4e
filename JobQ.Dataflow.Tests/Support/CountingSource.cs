using System.Collections.Concurrent;
using System.Threading.Tasks.Dataflow;

namespace JobQ.Dataflow.Tests.Support;

/// <summary>
/// A source that offers items by hand (<see cref="Offer"/>) and counts what targets then do with them: how often
/// they consume, reserve and release, and which items they took. It can also refuse to give its items, as a source
/// whose message another target took meanwhile.
/// </summary>
internal sealed class CountingSource<T> : ISourceBlock<T>
{
    private readonly ConcurrentDictionary<long, T> _available = new();
    private readonly ConcurrentDictionary<long, ITargetBlock<T>> _reserved = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _firstConsumed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _firstConsumeCall = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _nextId;
    private int _consumeCalls;
    private int _reserveCalls;
    private int _releaseCalls;

    /// <summary>Gets or sets whether consume and reserve calls get the item; when false they get nothing.</summary>
    public bool Gives { get; set; } = true;

    /// <summary>Gets or sets what <see cref="ConsumeMessage"/> throws, as a broken source would; null: it does not throw.</summary>
    public Exception? ThrowsOnConsume { get; set; }

    /// <summary>Gets the number of <see cref="ConsumeMessage"/> calls, successful or not.</summary>
    public int ConsumeCalls => Volatile.Read(ref _consumeCalls);

    /// <summary>Gets the number of <see cref="ReserveMessage"/> calls.</summary>
    public int ReserveCalls => Volatile.Read(ref _reserveCalls);

    /// <summary>Gets the number of <see cref="ReleaseReservation"/> calls.</summary>
    public int ReleaseCalls => Volatile.Read(ref _releaseCalls);

    /// <summary>Gets the items targets consumed.</summary>
    public ConcurrentQueue<T> Consumed { get; } = new();

    /// <summary>Gets a task that completes when a target first calls <see cref="ConsumeMessage"/>, whatever it then gets.</summary>
    public Task FirstConsumeCall => _firstConsumeCall.Task;

    /// <summary>Gets a task that completes when the first item is consumed.</summary>
    public Task FirstConsumed => _firstConsumed.Task;

    public Task Completion => _completion.Task;

    /// <summary>Offers <paramref name="item"/> to <paramref name="target"/> under a new header, as a linked source would.</summary>
    public DataflowMessageStatus Offer(ITargetBlock<T> target, T item, bool consumeToAccept)
    {
        var header = new DataflowMessageHeader(Interlocked.Increment(ref _nextId));
        _available[header.Id] = item;
        var status = target.OfferMessage(header, item, this, consumeToAccept);
        if (status == DataflowMessageStatus.Accepted && !consumeToAccept)
        {
            _available.TryRemove(header.Id, out _);
        }

        return status;
    }

    /// <summary>Gets the headers targets consumed.</summary>
    public ConcurrentQueue<long> ConsumedHeaders { get; } = new();

    /// <summary>Offers the message of <paramref name="header"/> again, as a source re-offers the message it could not place.</summary>
    public DataflowMessageStatus Reoffer(ITargetBlock<T> target, DataflowMessageHeader header)
        => target.OfferMessage(header, _available[header.Id], this, consumeToAccept: false);

    /// <summary>Gets the header of the last message offered.</summary>
    public DataflowMessageHeader LastHeader => new(Volatile.Read(ref _nextId));

    public T ConsumeMessage(DataflowMessageHeader messageHeader, ITargetBlock<T> target, out bool messageConsumed)
    {
        Interlocked.Increment(ref _consumeCalls);
        _firstConsumeCall.TrySetResult();
        if (ThrowsOnConsume is { } exception)
        {
            throw exception;
        }

        if (Gives
            && (!_reserved.TryGetValue(messageHeader.Id, out var holder) || holder == target)
            && _available.TryRemove(messageHeader.Id, out var item))
        {
            _reserved.TryRemove(messageHeader.Id, out _);
            Consumed.Enqueue(item);
            ConsumedHeaders.Enqueue(messageHeader.Id);
            _firstConsumed.TrySetResult();
            messageConsumed = true;
            return item;
        }

        messageConsumed = false;
        return default!;
    }

    public bool ReserveMessage(DataflowMessageHeader messageHeader, ITargetBlock<T> target)
    {
        Interlocked.Increment(ref _reserveCalls);
        return Gives && _available.ContainsKey(messageHeader.Id) && _reserved.TryAdd(messageHeader.Id, target);
    }

    public void ReleaseReservation(DataflowMessageHeader messageHeader, ITargetBlock<T> target)
    {
        Interlocked.Increment(ref _releaseCalls);
        _reserved.TryRemove(messageHeader.Id, out _);
    }

    public IDisposable LinkTo(ITargetBlock<T> target, DataflowLinkOptions linkOptions) =>
        throw new NotSupportedException("This source offers by hand only.");

    public void Complete() => _completion.TrySetResult();

    public void Fault(Exception exception) => _completion.TrySetException(exception);
}
