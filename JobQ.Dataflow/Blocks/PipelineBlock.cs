using System.Diagnostics;
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
[DebuggerDisplay("{ToString(),nq}")]
[DebuggerTypeProxy(typeof(PipelineBlock<,>.DebugView))]
internal sealed class PipelineBlock<TIn, TOut> : IPropagatorBlock<TIn, TOut>, IReceivableSourceBlock<TOut>
{
    private readonly Pipeline _pipeline;
    private readonly InputBatcher<TIn> _head;
    private readonly TransformManyBlock<ItemRun<TOut>, TOut> _tail;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Guarded by _live: every link until it ends (disposed, MaxMessages reached, or declined for good), those that
    // propagate completion being passed it once; and the link each target consumes through: its first live one, as a
    // Dataflow source gives a target linked twice a link of its own, until it ends.
    private readonly List<OutputLink> _live = [];
    private readonly Dictionary<ITargetBlock<TOut>, OutputLink> _linkOf = new(ReferenceEqualityComparer.Instance);
    private bool _linksCompleted;

    // The tail's reservation (a source holds one at a time): the target that made it and the name the tail knows it by
    // (the link it went through, or the target itself when it had none), so that the target consumes or releases it
    // under that name whatever it has linked or unlinked since.
    private (ITargetBlock<TOut> Target, ITargetBlock<TOut> Reserver)? _reservation;

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
        _completion.Task.ContinueWith(
            static (completion, state) =>
            {
                // Observed here, as Dataflow's own blocks observe theirs: a faulted block nobody awaits is no
                // unobserved task exception.
                _ = completion.Exception;
                ((PipelineBlock<TIn, TOut>)state!).PropagateToLinks();
            },
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);

        // Let go of when the block completes, as Dataflow's own blocks do: a token that outlives many blocks (a
        // server's) must not keep every one of them alive.
        var registration = cancellationToken.UnsafeRegister(static state => ((Pipeline)state!).Stop(StopReason.Canceled), _pipeline);
        _completion.Task.ContinueWith(static (_, state) => ((CancellationTokenRegistration)state!).Dispose(), registration, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
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
        if (_head.DeclineForFault(exception))
        {
            _pipeline.Fail(exception);
        }
    }

    public IDisposable LinkTo(ITargetBlock<TOut> target, DataflowLinkOptions linkOptions)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(linkOptions);
        var link = new OutputLink(this, target, linkOptions);
        bool completedAlready;
        lock (_live)
        {
            _live.Add(link);
            _linkOf.TryAdd(target, link);
            completedAlready = _linksCompleted;
        }

        // The tail offers through the link, which names this block as the source; completion is this block's, passed on
        // by PropagateToLinks while the link lasts.
        link.Inner = _tail.LinkTo(link, new DataflowLinkOptions { Append = linkOptions.Append, MaxMessages = linkOptions.MaxMessages });
        if (completedAlready && linkOptions.PropagateCompletion)
        {
            Propagate(Completion, target);
        }

        return link;
    }

    // A target consumes, reserves and releases in its own name; the tail knows it by the link it offered through.
    public TOut? ConsumeMessage(DataflowMessageHeader messageHeader, ITargetBlock<TOut> target, out bool messageConsumed)
    {
        var (link, reserver, reserved) = NameOf(messageHeader, target);
        var value = ((ISourceBlock<TOut>)_tail).ConsumeMessage(messageHeader, reserver, out messageConsumed);
        if (messageConsumed)
        {
            if (reserved)
            {
                ReservationEnded(target);
            }

            link?.Took();
        }

        return value;
    }

    public bool ReserveMessage(DataflowMessageHeader messageHeader, ITargetBlock<TOut> target)
    {
        var (_, reserver, _) = NameOf(messageHeader, target);
        var reserved = ((ISourceBlock<TOut>)_tail).ReserveMessage(messageHeader, reserver);
        if (reserved)
        {
            lock (_live)
            {
                _reservation = (target, reserver);
            }
        }

        return reserved;
    }

    public void ReleaseReservation(DataflowMessageHeader messageHeader, ITargetBlock<TOut> target)
    {
        var (_, reserver, _) = NameOf(messageHeader, target);
        ((ISourceBlock<TOut>)_tail).ReleaseReservation(messageHeader, reserver);
        ReservationEnded(target);
    }

    /// <summary>Names the block as Dataflow's blocks name themselves: the pipeline's name and the completion's id.</summary>
    public override string ToString() => $"JobQ pipeline '{_pipeline.Name}' Id={Completion.Id}";

    public bool TryReceive(Predicate<TOut>? filter, out TOut item) => _tail.TryReceive(filter, out item!);

    public bool TryReceiveAll([NotNullWhen(true)] out IList<TOut>? items) => _tail.TryReceiveAll(out items);

    /// <summary>Completes or faults a linked target as Dataflow's sources do: a fault passes on the whole <see cref="AggregateException"/>.</summary>
    private static void Propagate(Task completion, ITargetBlock<TOut> target)
    {
        if (completion.IsFaulted)
        {
            target.Fault(completion.Exception!);
        }
        else
        {
            target.Complete();
        }
    }

    /// <summary>
    /// Gets the link <paramref name="target"/> consumes through, and the name the tail knows it by: the one its
    /// reservation was made under, if it holds one (<c>Reserved</c>), else that link, else the target itself.
    /// </summary>
    private (OutputLink? Link, ITargetBlock<TOut> Reserver, bool Reserved) NameOf(DataflowMessageHeader messageHeader, ITargetBlock<TOut> target)
    {
        if (!messageHeader.IsValid)
        {
            throw new ArgumentException("The message header is not valid.", nameof(messageHeader));
        }

        ArgumentNullException.ThrowIfNull(target);
        lock (_live)
        {
            var link = _linkOf.GetValueOrDefault(target);
            return _reservation is { } held && held.Target == target
                ? (link, held.Reserver, true)
                : (link, (ITargetBlock<TOut>?)link ?? target, false);
        }
    }

    private void ReservationEnded(ITargetBlock<TOut> target)
    {
        lock (_live)
        {
            if (_reservation is { } held && held.Target == target)
            {
                _reservation = null;
            }
        }
    }

    /// <summary>
    /// Replaces an ended link in <c>_linkOf</c> by the target's next live link, if any (a reservation made through it is
    /// still settled under its name: <see cref="_reservation"/>).
    /// </summary>
    private void ForgetLocked(OutputLink link)
    {
        if (link.IsEnded && _linkOf.GetValueOrDefault(link.Target) == link)
        {
            if (_live.Find(other => other.Target == link.Target) is { } next)
            {
                _linkOf[link.Target] = next;
            }
            else
            {
                _linkOf.Remove(link.Target);
            }
        }
    }

    private void PropagateToLinks()
    {
        OutputLink[] links;
        lock (_live)
        {
            _linksCompleted = true;
            links = [.. _live.Where(link => link.PropagatesCompletion)];
        }

        foreach (var link in links)
        {
            Propagate(Completion, link.Target);
        }
    }

    private void Ended(OutputLink link)
    {
        lock (_live)
        {
            _live.Remove(link);
            ForgetLocked(link);
        }
    }

    private void Completed(Task all)
    {
        // Read first, so that the blocks' fault is observed even when the pipeline's own list of faults is the one used.
        var blockFault = all.Exception?.InnerException;

        // A block's own fault counts too: its continuation that stops the pipeline may run after this one.
        if (_pipeline.Faults is { Count: > 0 } faults)
        {
            _completion.TrySetException(faults);
        }
        else if (blockFault is { } fault)
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

    /// <summary>What the debugger shows for the block, as it shows a built-in block's counts, targets and completion.</summary>
    private sealed class DebugView(PipelineBlock<TIn, TOut> block)
    {
        /// <summary>Gets the pipeline's statistics now, stage by stage.</summary>
        public JobStats Stats => block._pipeline.Snapshot();

        /// <summary>Gets the number of outputs waiting to be taken.</summary>
        public int OutputCount => block._tail.OutputCount;

        /// <summary>Gets the targets of the live links, in link order.</summary>
        public ITargetBlock<TOut>[] LinkedTargets
        {
            get
            {
                lock (block._live)
                {
                    return [.. block._live.Select(link => link.Target)];
                }
            }
        }

        /// <summary>Gets the block's completion.</summary>
        public Task Completion => block.Completion;
    }

    /// <summary>
    /// One link from the block to a target, as Dataflow's own sources make them: the tail offers through it, and the
    /// target sees the block as the source of its offers (so what it calls on that source, <c>Complete</c> included,
    /// reaches the block). It ends when disposed, when the target has taken <c>MaxMessages</c>, or when the target
    /// declines for good; completion is passed on only while it lasts.
    /// </summary>
    [DebuggerDisplay("{ToString(),nq}")]
    private sealed class OutputLink(PipelineBlock<TIn, TOut> owner, ITargetBlock<TOut> target, DataflowLinkOptions options)
        : ITargetBlock<TOut>, IDisposable
    {
        private int _taken;
        private int _ended;

        public ITargetBlock<TOut> Target { get; } = target;

        /// <summary>Gets whether the block's completion is passed on to <see cref="Target"/> while the link lasts.</summary>
        public bool PropagatesCompletion => options.PropagateCompletion;

        public IDisposable? Inner { get; set; }

        /// <summary>Gets whether the link has ended.</summary>
        public bool IsEnded => Volatile.Read(ref _ended) != 0;

        public Task Completion => Target.Completion;

        public DataflowMessageStatus OfferMessage(DataflowMessageHeader messageHeader, TOut messageValue, ISourceBlock<TOut>? source, bool consumeToAccept)
        {
            var status = Target.OfferMessage(messageHeader, messageValue, owner, consumeToAccept);
            if (status == DataflowMessageStatus.Accepted && !consumeToAccept)
            {
                Took();
            }
            else if (status == DataflowMessageStatus.DecliningPermanently)
            {
                End();
            }

            return status;
        }

        /// <summary>The target took a message offered through this link.</summary>
        public void Took()
        {
            if (options.MaxMessages != DataflowBlockOptions.Unbounded && Interlocked.Increment(ref _taken) >= options.MaxMessages)
            {
                End();
            }
        }

        public void Dispose()
        {
            Inner?.Dispose();
            End();
        }

        public override string ToString() => $"{owner} -> {Target}";

        // The tail's completion is not the block's: the block passes its own on (PropagateToLinks).
        public void Complete()
        {
        }

        public void Fault(Exception exception)
        {
        }

        private void End()
        {
            if (Interlocked.Exchange(ref _ended, 1) == 0)
            {
                owner.Ended(this);
            }
        }
    }
}
