using System.Runtime.CompilerServices;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// Checks what a worker returned before the stage uses it: a null task or sequence fails the item with a message that
/// says so, rather than with a bare <see cref="NullReferenceException"/> from inside the stage.
/// </summary>
internal static class WorkerReturned
{
    public static ValueTask<T> Task<T>(Task<T>? task)
        => task is null ? throw NullTask<T>() : new ValueTask<T>(task);

    public static Task Task(Task? task) => task ?? throw Null("a Task", "return a task (Task.CompletedTask when there is nothing to await)");

    public static T Sequence<T>(T? sequence)
        where T : class
        => sequence ?? throw Null("a sequence", "return an empty one to pass nothing on");

    private static InvalidOperationException Null(string what, string advice) => new($"The worker returned null instead of {what}; {advice}.");

    /// <summary>
    /// A null <c>Task&lt;T&gt;</c>, which is also what <c>x =&gt; null</c> returns when it binds to the Task overload (null
    /// converts to a task, and the Task overloads are chosen first): the advice covers a null meant as the value.
    /// </summary>
    private static InvalidOperationException NullTask<T>()
    {
        var type = Workers.TypeName(typeof(T)) + (typeof(T).IsValueType ? string.Empty : "?");
        return Null(
            $"a Task<{Workers.TypeName(typeof(T))}>",
            $"return a task (Task.FromResult for a value at hand). To pass null on as the value, give the lambda its return type, as in {type} (x) => null");
    }

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
