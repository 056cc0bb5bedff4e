namespace JobQ.Dataflow.Internal;

/// <summary>
/// Wraps the user's worker inside one partition: its outputs are marked, and every item ends with an end marker
/// (even when the call failed or passed nothing on), so the merger knows where each item's outputs stop.
/// </summary>
internal sealed class PartitionWorker<TIn, TOut>(StageWorker<TIn, TOut> inner) : StageWorker<TIn, Marked<TOut>>
{
    // A partition has exactly one lane, so one adapter per partition worker suffices.
    private MarkingOutput? _adapter;

    public override bool IsAsync => inner.IsAsync;

    public override void Invoke(TIn item, IOutput<Marked<TOut>> output)
    {
        try
        {
            inner.Invoke(item, Adapter(output));
        }
        finally
        {
            output.Add(Marked<TOut>.End);
        }
    }

    public override async ValueTask InvokeAsync(TIn item, IOutput<Marked<TOut>> output, CancellationToken cancellationToken)
    {
        try
        {
            await inner.InvokeAsync(item, Adapter(output), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await output.AddAsync(Marked<TOut>.End).ConfigureAwait(false);
        }
    }

    private MarkingOutput Adapter(IOutput<Marked<TOut>> output)
    {
        if (_adapter is null || !ReferenceEquals(_adapter.Output, output))
        {
            _adapter = new MarkingOutput(output);
        }

        return _adapter;
    }

    private sealed class MarkingOutput(IOutput<Marked<TOut>> output) : IOutput<TOut>
    {
        public IOutput<Marked<TOut>> Output => output;

        public void Add(TOut item) => output.Add(new Marked<TOut>(item, false));

        public ValueTask AddAsync(TOut item) => output.AddAsync(new Marked<TOut>(item, false));

        public void Drop() => output.Drop();
    }
}
