namespace JobQ.Dataflow.Internal;

/// <summary>What became of a put.</summary>
internal enum PutResult
{
    /// <summary>The item was taken.</summary>
    Added,

    /// <summary>Joining began before the put: the item was refused.</summary>
    Joined,

    /// <summary>The pipeline stopped (or the head completed) before the item could be taken.</summary>
    Stopped,
}
