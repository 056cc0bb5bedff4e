namespace JobQ.Dataflow.Internal;

/// <summary>Why a pipeline stopped before finishing its input.</summary>
internal enum StopReason
{
    None = 0,
    Timeout,
    Canceled,
    Faulted,
    Disposed,
}
