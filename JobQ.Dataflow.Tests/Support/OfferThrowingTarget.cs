using System.Collections.Concurrent;
using System.Threading.Tasks.Dataflow;

namespace JobQ.Dataflow.Tests.Support;

/// <summary>
/// A target that accepts its first <paramref name="acceptFirst"/> offers and throws <see cref="Error"/> from every
/// later <see cref="OfferMessage"/>: a broken consumer, which faults the source that offered (Dataflow's rule).
/// </summary>
internal sealed class OfferThrowingTarget<T>(int acceptFirst = 0) : ITargetBlock<T>
{
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _offers;

    /// <summary>Gets the exception every offer after the first accepted ones throws.</summary>
    public InvalidOperationException Error { get; } = new("The target threw from OfferMessage.");

    /// <summary>Gets the items accepted.</summary>
    public ConcurrentQueue<T> Accepted { get; } = new();

    /// <summary>Gets the number of offers that threw.</summary>
    public int Thrown => Math.Max(0, Volatile.Read(ref _offers) - acceptFirst);

    public Task Completion => _completion.Task;

    public DataflowMessageStatus OfferMessage(DataflowMessageHeader messageHeader, T messageValue, ISourceBlock<T>? source, bool consumeToAccept)
    {
        if (Interlocked.Increment(ref _offers) > acceptFirst)
        {
            throw Error;
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

        Accepted.Enqueue(messageValue);
        return DataflowMessageStatus.Accepted;
    }

    public void Complete() => _completion.TrySetResult();

    public void Fault(Exception exception) => _completion.TrySetException(exception);
}
