namespace JobQ.Dataflow;

/// <summary>Starts a typed worker list (jobq's <c>workers</c> argument).</summary>
/// <example>
/// <code>
/// JobQueue.Run([0, 1, 2], Workers.Of&lt;int&gt;().Then(Add1).Then(Multi2, threads: 2).Then(Print));
/// </code>
/// </example>
public static class Workers
{
    /// <summary>Starts an empty worker list whose first stage takes items of type <typeparamref name="T"/>.</summary>
    /// <typeparam name="T">The type of the input items.</typeparam>
    /// <returns>An empty worker list; add stages with <c>Then</c> and <c>ThenMany</c>.</returns>
    public static Workers<T, T> Of<T>() => Workers<T, T>.Empty;
}
