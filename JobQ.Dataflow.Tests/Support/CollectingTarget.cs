using System.Collections.Concurrent;
using System.Threading.Tasks.Dataflow;

namespace JobQ.Dataflow.Tests.Support;

/// <summary>
/// An unbounded target that keeps each item as it accepts it, inside <see cref="OfferMessage"/>: once the source
/// that offered reports completion, every item it delivered is already in <see cref="Items"/> (an ActionBlock would
/// still be processing some).
/// </summary>
internal sealed class CollectingTarget<T> : ITargetBlock<T>
{
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Gets the items accepted, in the order they were offered.</summary>
    public ConcurrentQueue<T> Items { get; } = new();

    /// <summary>Gets or sets what to do with the offering source once an item is accepted.</summary>
    public Action<ISourceBlock<T>?>? Accepted { get; init; }

    public Task Completion => _completion.Task;

    public DataflowMessageStatus OfferMessage(DataflowMessageHeader messageHeader, T messageValue, ISourceBlock<T>? source, bool consumeToAccept)
    {
        if (_completion.Task.IsCompleted)
        {
            return DataflowMessageStatus.DecliningPermanently;
        }

        if (consumeToAccept)
        {
            var consumedValue = source!.ConsumeMessage(messageHeader, this, out var consumed);
            if (!consumed)
            {
                return DataflowMessageStatus.NotAvailable;
            }

            messageValue = consumedValue!;
        }

        Items.Enqueue(messageValue);
        Accepted?.Invoke(source);
        return DataflowMessageStatus.Accepted;
    }

    public void Complete() => _completion.TrySetResult();

    public void Fault(Exception exception) => _completion.TrySetException(exception);
}
