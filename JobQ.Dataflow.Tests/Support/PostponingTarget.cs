using System.Collections.Concurrent;
using System.Threading.Tasks.Dataflow;

namespace JobQ.Dataflow.Tests.Support;

/// <summary>
/// A target that postpones every offer and records it, so a test can reserve, consume or release the offered
/// message on the source by hand, as a non-greedy Dataflow target would.
/// </summary>
internal sealed class PostponingTarget<T> : ITargetBlock<T>
{
    private readonly TaskCompletionSource<(DataflowMessageHeader Header, T Value)> _firstOffer = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Gets the offers received, in order.</summary>
    public ConcurrentQueue<(DataflowMessageHeader Header, T Value)> Offers { get; } = new();

    /// <summary>Gets the first offer received.</summary>
    public Task<(DataflowMessageHeader Header, T Value)> FirstOffer => _firstOffer.Task;

    public Task Completion { get; } = new TaskCompletionSource().Task;

    public DataflowMessageStatus OfferMessage(DataflowMessageHeader messageHeader, T messageValue, ISourceBlock<T>? source, bool consumeToAccept)
    {
        Offers.Enqueue((messageHeader, messageValue));
        _firstOffer.TrySetResult((messageHeader, messageValue));
        return DataflowMessageStatus.Postponed;
    }

    public void Complete()
    {
    }

    public void Fault(Exception exception)
    {
    }
}
