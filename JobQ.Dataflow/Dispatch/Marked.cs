namespace JobQ.Dataflow.Internal;

/// <summary>An entry of a partition's output queue: a value, or the end of one input item's outputs.</summary>
internal readonly record struct Marked<T>(T Value, bool IsEnd)
{
    public static Marked<T> End => new(default!, true);
}
