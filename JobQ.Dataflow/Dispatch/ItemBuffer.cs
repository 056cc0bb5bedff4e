namespace JobQ.Dataflow.Internal;

/// <summary>
/// What one partition run's calls pass on, with the number of outputs of each input item, so that
/// <see cref="OrderedMerge{T}"/> can put every item's outputs back in input order.
/// </summary>
/// <typeparam name="T">The type of the outputs.</typeparam>
/// <param name="progress">The run's counts, for <see cref="Drop"/>.</param>
/// <param name="keep">Whether to keep the outputs; false for the last stage of a run, whose outputs jobq throws away.</param>
internal sealed class ItemBuffer<T>(RunProgress progress, bool keep) : IOutput<T>
{
    private T[] _values = keep ? ItemRun<T>.Rent(16) : [];

    /// <summary>Gets the number of outputs so far.</summary>
    public int Count { get; private set; }

    public void Add(T item)
    {
        if (!keep)
        {
            return;
        }

        if (Count == _values.Length)
        {
            var larger = ItemRun<T>.Rent(Count * 2);
            Array.Copy(_values, larger, Count);
            ItemRun<T>.Return(_values, Count);
            _values = larger;
        }

        _values[Count++] = item;
    }

    public void Drop() => progress.Drop();

    /// <summary>Takes the outputs as a run; the buffer is not used afterwards.</summary>
    public ItemRun<T> Take() => new(_values, Count);
}
