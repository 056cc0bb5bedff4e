namespace JobQ.Dataflow.Internal;

/// <summary>Where a worker adapter puts what one call produced: a run's <c>RunWriter</c>, a partition run's
/// <c>ItemBuffer</c>, or a retry attempt's buffer; each is used by one call at a time.</summary>
internal interface IOutput<in T>
{
    /// <summary>Passes one value on.</summary>
    void Add(T item);

    /// <summary>Records that the call passed nothing on by the worker's choice (<c>EmptyRst</c>).</summary>
    void Drop();
}
