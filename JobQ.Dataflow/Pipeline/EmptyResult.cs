namespace JobQ.Dataflow;

/// <summary>
/// The type of <see cref="JobQueue.EmptyRst"/>: a worker result that passes nothing to the next stage.
/// </summary>
/// <remarks>
/// It converts implicitly to <see cref="WorkerResult{T}"/> of any <c>T</c>, so a worker declared to return
/// <see cref="WorkerResult{T}"/> can write <c>i % 2 == 0 ? JobQueue.EmptyRst : i</c>.
/// </remarks>
public readonly struct EmptyResult : IEquatable<EmptyResult>
{
    /// <inheritdoc />
    public bool Equals(EmptyResult other) => true;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is EmptyResult;

    /// <inheritdoc />
    public override int GetHashCode() => 0;

    /// <inheritdoc />
    public override string ToString() => nameof(JobQueue.EmptyRst);

    /// <summary>Every <see cref="EmptyResult"/> equals every other.</summary>
    /// <param name="left">The first value.</param>
    /// <param name="right">The second value.</param>
    /// <returns>Always <see langword="true"/>.</returns>
    public static bool operator ==(EmptyResult left, EmptyResult right) => true;

    /// <summary>Every <see cref="EmptyResult"/> equals every other.</summary>
    /// <param name="left">The first value.</param>
    /// <param name="right">The second value.</param>
    /// <returns>Always <see langword="false"/>.</returns>
    public static bool operator !=(EmptyResult left, EmptyResult right) => false;
}
