using System.Threading.Tasks.Dataflow;

namespace JobQ.Dataflow;

/// <summary>
/// What a run does with an item whose worker (or dispatcher) failed. Set it in <see cref="JobOptions.ErrorPolicy"/>.
/// </summary>
/// <remarks>
/// <para>Every policy logs the failure (Error level) and counts it in <see cref="StageStats.Failed"/>. A stopped run
/// (timeout, cancellation) is never reported as a failure; an <see cref="OperationCanceledException"/> a worker throws
/// for its own reasons is.</para>
/// <para>When a stage has a Polly resilience pipeline (<see cref="Workers{TIn, TOut}.WithResilience"/>), the policy
/// sees a failure only once that pipeline gives up.</para>
/// </remarks>
public sealed class ErrorPolicy
{
    private ErrorPolicy(ErrorPolicyKind kind, Func<JobFailure, CancellationToken, ValueTask>? handler)
    {
        Kind = kind;
        Handler = handler;
    }

    /// <summary>Gets jobq's behaviour, the default: log the failure, drop the item, go on with the next one.</summary>
    public static ErrorPolicy LogAndDrop { get; } = new(ErrorPolicyKind.LogAndDrop, null);

    /// <summary>
    /// Gets the policy that stops the run at the first failure: the input is no longer read, no new call starts,
    /// calls in progress finish (async ones see their token cancelled), and the run rethrows that exception
    /// (a pipeline block faults with it).
    /// </summary>
    public static ErrorPolicy FailFast { get; } = new(ErrorPolicyKind.FailFast, null);

    internal ErrorPolicyKind Kind { get; }

    internal Func<JobFailure, CancellationToken, ValueTask>? Handler { get; }

    /// <summary>Drops each failed item after giving it to <paramref name="handler"/>, then goes on.</summary>
    /// <param name="handler">Receives each failure, on the failing stage's worker, which waits for it. An exception it
    /// throws is logged and ignored: it never stops the run.</param>
    /// <returns>The policy.</returns>
    public static ErrorPolicy Handle(Action<JobFailure> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return new(ErrorPolicyKind.Handle, (failure, _) =>
        {
            handler(failure);
            return default;
        });
    }

    /// <summary>Drops each failed item after awaiting <paramref name="handler"/> with it, then goes on.</summary>
    /// <param name="handler">Receives each failure and the run's token. An exception it throws is logged and ignored.</param>
    /// <returns>The policy.</returns>
    public static ErrorPolicy Handle(Func<JobFailure, CancellationToken, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return new(ErrorPolicyKind.Handle, handler);
    }

    /// <summary>Sends each failed item to a dead-letter block (awaiting room if it is bounded), then goes on.</summary>
    /// <param name="deadLetters">The target; a declined failure is logged.</param>
    /// <returns>The policy.</returns>
    public static ErrorPolicy DeadLetter(ITargetBlock<JobFailure> deadLetters)
    {
        ArgumentNullException.ThrowIfNull(deadLetters);
        return new(ErrorPolicyKind.Handle, async (failure, cancellationToken) =>
        {
            if (!await deadLetters.SendAsync(failure, cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidOperationException("The dead-letter block declined the failure.");
            }
        });
    }
}

/// <summary>The kinds of <see cref="ErrorPolicy"/>.</summary>
internal enum ErrorPolicyKind
{
    LogAndDrop,
    FailFast,
    Handle,
}
