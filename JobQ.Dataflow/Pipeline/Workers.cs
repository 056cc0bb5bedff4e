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

    /// <summary>
    /// Gets a worker's name as its code reads: <c>Type.Method</c>, a local function by its own name in the type that
    /// declares it (<c>Program.Add1</c>); null for a lambda, which has none.
    /// </summary>
    internal static string? MethodName(Delegate worker)
    {
        var name = worker.Method.Name;
        if (name.Contains('<', StringComparison.Ordinal))
        {
            // A local function compiles to "<Outer>g__Name|0_0"; a lambda to "<Outer>b__0_0".
            var start = name.IndexOf(">g__", StringComparison.Ordinal);
            var end = name.IndexOf('|', StringComparison.Ordinal);
            if (start < 0 || end < start)
            {
                return null;
            }

            name = name[(start + 4)..end];
        }

        // A local function that captures lives in a compiler-made class inside the type that declares it.
        var type = worker.Method.DeclaringType;
        while (type is not null && type.Name.StartsWith('<'))
        {
            type = type.DeclaringType;
        }

        return type is null ? null : $"{TypeName(type)}.{name}";
    }

    /// <summary>Returns a type's name as C# shows it, with its type arguments: <c>Task&lt;Int32&gt;</c>.</summary>
    internal static string TypeName(Type type)
    {
        if (!type.IsGenericType)
        {
            return type.Name;
        }

        var name = type.Name;
        var tick = name.IndexOf('`', StringComparison.Ordinal);
        return $"{(tick < 0 ? name : name[..tick])}<{string.Join(", ", type.GetGenericArguments().Select(TypeName))}>";
    }
}
