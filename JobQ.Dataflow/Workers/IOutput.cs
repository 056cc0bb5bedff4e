namespace JobQ.Dataflow.Internal;

/// <summary>Where a worker adapter puts what one call produced. Implemented per worker lane, so owner-only.</summary>
internal interface IOutput<in T>
{
    /// <summary>Passes one value on; may wait for room downstream on a sync lane.</summary>
    void Add(T item);

    /// <summary>Passes one value on, awaiting room downstream instead of blocking.</summary>
    ValueTask AddAsync(T item);

    /// <summary>Records that the call passed nothing on by the worker's choice (<c>EmptyRst</c>).</summary>
    void Drop();
}
