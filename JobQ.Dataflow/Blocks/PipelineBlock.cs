using System.Threading.Tasks.Dataflow;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// A whole pipeline as one Dataflow propagator: a bounded <see cref="BufferBlock{T}"/> takes offers (so
/// <c>BoundedCapacity</c> backpressure holds across the boundary), a pump moves items into the engine, and a
/// second pump sends the last stage's outputs into a bounded source block that links onward.
/// </summary>
/// <remarks>
/// <para><c>Complete()</c> drains: the input pump ends the engine's input once the target is empty, and the source
/// completes after the last output was accepted. <c>Fault()</c> stops the engine and faults the source, also after
/// <c>Complete()</c> (as Dataflow's execution blocks do; a <see cref="BufferBlock{T}"/> alone would ignore it then).
/// Worker exceptions never fault the block: they are logged and the item dropped, as in a run.</para>
/// </remarks>
internal static class PipelineBlock
{
    public static IPropagatorBlock<TIn, TOut> Create<TIn, TOut>(Workers<TIn, TOut> workers, JobOptions options)
    {
        var pipeline = Pipeline<TIn, TOut>.Build(workers, options, collectOutput: true);
        var runtime = pipeline.Runtime;
        var bounded = new DataflowBlockOptions { BoundedCapacity = options.QueueSize };
        var target = new BufferBlock<TIn>(bounded);
        var source = new BufferBlock<TOut>(bounded);
        runtime.Start();
        runtime.LoopStarted();
        _ = Task.Run(() => PumpInAsync(target, pipeline));
        runtime.LoopStarted();
        _ = Task.Run(() => PumpOutAsync(target, source, pipeline));
        return DataflowBlock.Encapsulate(new Door<TIn>(target, runtime), source);
    }

    /// <summary>The block's target side: the bounded buffer, with a <c>Fault()</c> that stops the engine first.</summary>
    private sealed class Door<TIn>(BufferBlock<TIn> buffer, PipelineRuntime runtime) : ITargetBlock<TIn>
    {
        public Task Completion => buffer.Completion;

        public DataflowMessageStatus OfferMessage(DataflowMessageHeader messageHeader, TIn messageValue, ISourceBlock<TIn>? source, bool consumeToAccept)
            => ((ITargetBlock<TIn>)buffer).OfferMessage(messageHeader, messageValue, source, consumeToAccept);

        public void Complete() => buffer.Complete();

        public void Fault(Exception exception)
        {
            ArgumentNullException.ThrowIfNull(exception);

            // Recorded as the run's fault, which the output pump gives the block's Completion.
            runtime.FailFast(exception);
            ((IDataflowBlock)buffer).Fault(exception);
        }
    }

    private static async Task PumpInAsync<TIn, TOut>(BufferBlock<TIn> target, Pipeline<TIn, TOut> pipeline)
    {
        var runtime = pipeline.Runtime;
        var buffer = new TIn[runtime.MaxRun];
        var waiter = new AsyncWaiter();
        try
        {
            while (await target.OutputAvailableAsync(runtime.Token).ConfigureAwait(false))
            {
                var count = 0;
                while (count < buffer.Length && target.TryReceive(out var item))
                {
                    buffer[count++] = item;
                }

                if (await pipeline.Input.WriteAsync(buffer.AsMemory(0, count), waiter).ConfigureAwait(false) < count)
                {
                    break; // Stopped.
                }

                Array.Clear(buffer, 0, count);
            }

            if (target.Completion.IsFaulted)
            {
                runtime.Stop(StopReason.Faulted);
            }
            else if (!runtime.Token.IsCancellationRequested)
            {
                pipeline.Input.Complete();
            }
        }
        catch (OperationCanceledException) when (runtime.Token.IsCancellationRequested)
        {
            // Stopped while waiting for offers.
        }
        catch (Exception exception)
        {
            runtime.Fail(exception, null);
        }
        finally
        {
            if (runtime.Token.IsCancellationRequested)
            {
                // A stopped block (fail-fast, or faulted) declines further offers, as any faulted Dataflow block does.
                ((IDataflowBlock)target).Fault(runtime.Fault ?? new OperationCanceledException("The pipeline block was stopped."));
            }

            runtime.LoopExited();
        }
    }

    private static async Task PumpOutAsync<TIn, TOut>(BufferBlock<TIn> target, BufferBlock<TOut> source, Pipeline<TIn, TOut> pipeline)
    {
        var runtime = pipeline.Runtime;
        Exception? failure = null;
        try
        {
            await foreach (var item in pipeline.Output!.ReadAllAsync(runtime.MaxRun).ConfigureAwait(false))
            {
                if (!await source.SendAsync(item).ConfigureAwait(false))
                {
                    runtime.Stop(StopReason.Canceled);
                    break;
                }
            }
        }
        catch (Exception exception)
        {
            failure = exception;
        }
        finally
        {
            runtime.LoopExited();
        }

        await runtime.Finished.ConfigureAwait(false);
        failure ??= runtime.Fault ?? target.Completion.Exception?.InnerException;
        if (failure is null && runtime.StopReason == StopReason.Faulted && target.Completion.IsFaulted)
        {
            failure = target.Completion.Exception;
        }

        if (runtime.Token.IsCancellationRequested)
        {
            // Decline further offers before the block's Completion reports the fault, so that nobody who saw the
            // fault can still get an item accepted (the input pump does the same, but may run later).
            ((IDataflowBlock)target).Fault(failure ?? new OperationCanceledException("The pipeline block was stopped."));
        }

        if (failure is not null)
        {
            ((IDataflowBlock)source).Fault(failure);
        }
        else
        {
            source.Complete();
        }
    }
}
