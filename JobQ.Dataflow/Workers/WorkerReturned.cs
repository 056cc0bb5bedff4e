using System.Runtime.CompilerServices;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// Checks what a worker returned before the stage uses it: a null task or sequence fails the item with a message that
/// says so, rather than with a bare <see cref="NullReferenceException"/> from inside the stage.
/// </summary>
internal static class WorkerReturned
{
    public static ValueTask<T> Task<T>(Task<T>? task)
        => task is null ? throw Null($"a Task<{typeof(T).Name}>", "return a task (Task.FromResult for a value at hand)") : new ValueTask<T>(task);

    public static Task Task(Task? task) => task ?? throw Null("a Task", "return a task (Task.CompletedTask when there is nothing to await)");

    public static T Sequence<T>(T? sequence)
        where T : class
        => sequence ?? throw Null("a sequence", "return an empty one to pass nothing on");

    private static InvalidOperationException Null(string what, string advice) => new($"The worker returned null instead of {what}; {advice}.");

    /// <summary>The values of a generator that may yield <see cref="JobQueue.EmptyRst"/>: those are skipped, as jobq skips them.</summary>
    public static IEnumerable<T> Values<T>(IEnumerable<WorkerResult<T>>? results)
    {
        foreach (var result in Sequence(results))
        {
            if (result.HasValue)
            {
                yield return result.Value;
            }
        }
    }

    /// <summary>The async twin of <see cref="Values{T}(IEnumerable{WorkerResult{T}}?)"/>.</summary>
    public static async IAsyncEnumerable<T> Values<T>(IAsyncEnumerable<WorkerResult<T>>? results, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var result in Sequence(results).WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            if (result.HasValue)
            {
                yield return result.Value;
            }
        }
    }
}
