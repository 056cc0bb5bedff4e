using Polly;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// Wraps every call of a worker in a Polly resilience pipeline (retries, per-call timeout, circuit breaker).
/// Outputs of an attempt are held back until it succeeds, so a retried generator never passes an element twice.
/// </summary>
/// <remarks>A sync worker stays sync (on its dedicated thread, through <c>Execute</c>); a per-call timeout can only
/// cancel async workers, which receive the pipeline's token.</remarks>
internal sealed class ResilientWorker<TIn, TOut>(StageWorker<TIn, TOut> inner, ResiliencePipeline resilience, CancellationToken runToken) : StageWorker<TIn, TOut>
{
    public override bool IsAsync => inner.IsAsync;

    public override void Invoke(TIn item, IOutput<TOut> output)
    {
        var attempt = new AttemptOutput();
        // The run's token stops retries and backoff waits once the run stops; the sync call itself cannot be cancelled.
        resilience.Execute(
            static (state, _) =>
            {
                state.Attempt.Reset();
                state.Inner.Invoke(state.Item, state.Attempt);
            },
            (Attempt: attempt, Inner: inner, Item: item),
            runToken);
        attempt.CommitTo(output);
    }

    public override async ValueTask InvokeAsync(TIn item, IOutput<TOut> output, CancellationToken cancellationToken)
    {
        var attempt = new AttemptOutput();
        await resilience.ExecuteAsync(
            static async (state, token) =>
            {
                state.Attempt.Reset();
                await state.Inner.InvokeAsync(state.Item, state.Attempt, token).ConfigureAwait(false);
            },
            (Attempt: attempt, Inner: inner, Item: item),
            cancellationToken).ConfigureAwait(false);
        attempt.CommitTo(output);
    }

    private sealed class AttemptOutput : IOutput<TOut>
    {
        private readonly List<TOut> _items = [];
        private bool _dropped;

        public void Add(TOut item) => _items.Add(item);

        public void Drop() => _dropped = true;

        public void Reset()
        {
            _items.Clear();
            _dropped = false;
        }

        public void CommitTo(IOutput<TOut> output)
        {
            foreach (var item in _items)
            {
                output.Add(item);
            }

            if (_dropped)
            {
                output.Drop();
            }
        }
    }
}
