using System.Diagnostics.CodeAnalysis;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// A whole pipeline as one Dataflow propagator: its real head (an <see cref="InputBatcher{T}"/> in front of the
/// first stage's door) and its real tail (the <see cref="TailBlock{T}"/>'s block), which links onward and is
/// received from directly.
/// </summary>
/// <remarks>
/// <para>It follows Dataflow's block contract: <c>Complete()</c> drains, and <see cref="Completion"/> ends once every
/// output has been taken; <c>Fault()</c>, a fail-fast worker failure, a target that throws, or the cancellation token
/// stop the pipeline; offers are postponed while the first stage's queue is full and declined for good once the
/// block completes or stops. <see cref="Completion"/> ends only after the head declines and every block of the graph
/// has completed, so whoever sees it ended can no longer get an item accepted.</para>
/// </remarks>
internal sealed class PipelineBlock<TIn, TOut> : IPropagatorBlock<TIn, TOut>, IReceivableSourceBlock<TOut>
{
    private readonly Pipeline _pipeline;
    private readonly InputBatcher<TIn> _head;
    private readonly TransformManyBlock<ItemRun<TOut>, TOut> _tail;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private PipelineBlock(Built<TIn, TOut> built, CancellationToken cancellationToken)
    {
        _pipeline = built.Pipeline;
        _tail = built.Tail!.Block;
        _head = new InputBatcher<TIn>(built.Head, _pipeline.Token) { Owner = this };
        _pipeline.Start(built.LastCompletion, lastFaultsFromOutside: true);

        var blocks = _pipeline.Stages.SelectMany(stage => stage.Blocks.Select(block => block.Completion).Append(stage.Completion)).Append(_tail.Completion);
        Task.WhenAll(blocks).ContinueWith(
            static (all, state) => ((PipelineBlock<TIn, TOut>)state!).Completed(all),
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);

        if (cancellationToken.CanBeCanceled)
        {
            cancellationToken.UnsafeRegister(static state => ((Pipeline)state!).Stop(StopReason.Canceled), _pipeline);
        }
    }

    public Task Completion => _completion.Task;

    public static PipelineBlock<TIn, TOut> Create(Workers<TIn, TOut> workers, JobOptions validatedOptions, CancellationToken cancellationToken)
        => new(PipelineBuilder.Build(workers, validatedOptions, resizable: false, tail: true), cancellationToken);

    public DataflowMessageStatus OfferMessage(DataflowMessageHeader messageHeader, TIn messageValue, ISourceBlock<TIn>? source, bool consumeToAccept)
        => _head.OfferMessage(messageHeader, messageValue, source, consumeToAccept);

    public void Complete() => _head.Complete();

    public void Fault(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        _head.Fault(exception);
        _pipeline.Fail(exception);
    }

    public IDisposable LinkTo(ITargetBlock<TOut> target, DataflowLinkOptions linkOptions)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(linkOptions);
        if (!linkOptions.PropagateCompletion)
        {
            return _tail.LinkTo(target, linkOptions);
        }

        // The whole block's completion is propagated, not the tail's: a stop or fault ends the tail as Canceled, and a
        // linked target must see the block's fault.
        var link = _tail.LinkTo(target, new DataflowLinkOptions { Append = linkOptions.Append, MaxMessages = linkOptions.MaxMessages });
        Completion.ContinueWith(
            static (completion, state) =>
            {
                var target = (ITargetBlock<TOut>)state!;
                if (completion.IsFaulted)
                {
                    target.Fault(completion.Exception!.InnerException!);
                }
                else
                {
                    target.Complete();
                }
            },
            target,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return link;
    }

    public TOut? ConsumeMessage(DataflowMessageHeader messageHeader, ITargetBlock<TOut> target, out bool messageConsumed)
        => ((ISourceBlock<TOut>)_tail).ConsumeMessage(messageHeader, target, out messageConsumed);

    public bool ReserveMessage(DataflowMessageHeader messageHeader, ITargetBlock<TOut> target)
        => ((ISourceBlock<TOut>)_tail).ReserveMessage(messageHeader, target);

    public void ReleaseReservation(DataflowMessageHeader messageHeader, ITargetBlock<TOut> target)
        => ((ISourceBlock<TOut>)_tail).ReleaseReservation(messageHeader, target);

    public bool TryReceive(Predicate<TOut>? filter, out TOut item) => _tail.TryReceive(filter, out item!);

    public bool TryReceiveAll([NotNullWhen(true)] out IList<TOut>? items) => _tail.TryReceiveAll(out items);

    private void Completed(Task all)
    {
        // A block's own fault counts too: its continuation that stops the pipeline may run after this one.
        if ((_pipeline.Fault ?? all.Exception?.InnerException) is { } fault)
        {
            _completion.TrySetException(fault);
        }
        else if (_pipeline.IsStopped)
        {
            _completion.TrySetCanceled();
        }
        else
        {
            _completion.TrySetResult();
        }
    }
}
