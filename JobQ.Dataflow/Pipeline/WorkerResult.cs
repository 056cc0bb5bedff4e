namespace JobQ.Dataflow;

/// <summary>
/// The result of a one-to-one worker that may also pass nothing on: either a value, or
/// <see cref="JobQueue.EmptyRst"/>.
/// </summary>
/// <typeparam name="T">The type of the value passed to the next stage.</typeparam>
/// <remarks>
/// Values convert implicitly, so a worker declared as <c>WorkerResult&lt;int&gt; DropEven(int i)</c> can
/// return <c>i % 2 == 0 ? JobQueue.EmptyRst : i</c>. A <see langword="null"/> value is a value: it is
/// passed on, as jobq passes <c>None</c> on.
/// </remarks>
public readonly struct WorkerResult<T>
{
    private readonly T _value;

    /// <summary>Creates a result that passes <paramref name="value"/> to the next stage.</summary>
    /// <param name="value">The value to pass on; may be <see langword="null"/>.</param>
    public WorkerResult(T value)
    {
        _value = value;
        HasValue = true;
    }

    /// <summary>Gets whether this result carries a value (<see langword="false"/> for <see cref="JobQueue.EmptyRst"/>).</summary>
    public bool HasValue { get; }

    /// <summary>Gets the value.</summary>
    /// <exception cref="InvalidOperationException">The result is <see cref="JobQueue.EmptyRst"/>.</exception>
    public T Value => HasValue ? _value : throw new InvalidOperationException("The result is EmptyRst and carries no value.");

    /// <summary>Wraps a value.</summary>
    /// <param name="value">The value to pass on.</param>
    public static implicit operator WorkerResult<T>(T value) => new(value);

    /// <summary>Converts <see cref="JobQueue.EmptyRst"/> into an empty result.</summary>
    /// <param name="empty">The empty marker.</param>
    public static implicit operator WorkerResult<T>(EmptyResult empty) => default;

    /// <inheritdoc />
    public override string ToString() => HasValue ? $"{_value}" : nameof(JobQueue.EmptyRst);
}
