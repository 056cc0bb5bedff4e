namespace JobQ.Dataflow;

/// <summary>One item that a stage failed to process: what an <see cref="ErrorPolicy"/> handler receives.</summary>
public sealed class JobFailure
{
    internal JobFailure(string stage, int stageIndex, object? item, Exception exception)
    {
        Stage = stage;
        StageIndex = stageIndex;
        Item = item;
        Exception = exception;
    }

    /// <summary>Gets the name of the stage that failed.</summary>
    public string Stage { get; }

    /// <summary>Gets the position of the stage in the worker list, from 0.</summary>
    public int StageIndex { get; }

    /// <summary>Gets the item the stage was given (boxed for value types).</summary>
    public object? Item { get; }

    /// <summary>Gets the exception: the worker's, the dispatcher's, or the one the resilience pipeline gave up with.</summary>
    public Exception Exception { get; }

    /// <inheritdoc />
    public override string ToString() => $"Stage {StageIndex} '{Stage}' failed on {Item}: {Exception.Message}";
}
