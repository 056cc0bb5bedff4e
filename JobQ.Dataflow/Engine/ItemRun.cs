using System.Buffers;
using System.Runtime.CompilerServices;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// The message that moves between the blocks of a pipeline: a run of items in a rented array. One Dataflow message
/// carries a run, so the per-message cost of a block (locks, a task, an offer) is paid once per run instead of once
/// per item. Users never see runs: stats, capacities and backpressure are counted in items.
/// </summary>
/// <typeparam name="T">The type of the items.</typeparam>
/// <remarks>A run is owned by exactly one party at a time: the block that holds the message, then the stage that
/// processes it, which returns the array to the pool once it has read the items.</remarks>
internal readonly struct ItemRun<T>
{
    public ItemRun(T[] items, int count, long sequence = 0)
    {
        Items = items;
        Count = count;
        Sequence = sequence;
    }

    /// <summary>Gets the array; only its first <see cref="Count"/> slots hold items.</summary>
    public T[] Items { get; }

    /// <summary>Gets the number of items in the run.</summary>
    public int Count { get; }

    /// <summary>Gets the run's position among the runs a stage admitted, from 0 (stamped by the stage's door).</summary>
    public long Sequence { get; }

    /// <summary>Gets the items.</summary>
    public ReadOnlySpan<T> Span => new(Items, 0, Count);

    /// <summary>Returns the same run stamped with <paramref name="sequence"/>.</summary>
    public ItemRun<T> WithSequence(long sequence) => new(Items, Count, sequence);

    /// <summary>Rents an array that holds at least <paramref name="capacity"/> items.</summary>
    /// <remarks>The pool may wait for a lock; an interrupt a cheap worker left on the thread (which is taken only after
    /// its run: see <see cref="ThreadInterrupt"/>) is taken here instead of failing the item whose output is stored.</remarks>
    public static T[] Rent(int capacity)
    {
        while (true)
        {
            try
            {
                return ArrayPool<T>.Shared.Rent(capacity);
            }
            catch (ThreadInterruptedException)
            {
                // Taken before the pool changed anything: try again.
            }
        }
    }

    /// <summary>Gives the array back to the pool, clearing the slots that held references so that no item is kept alive.</summary>
    public void Return() => Return(Items, Count);

    /// <summary>Gives <paramref name="items"/> back to the pool, clearing its first <paramref name="count"/> slots if they hold references.</summary>
    public static void Return(T[]? items, int count)
    {
        if (items is null)
        {
            return;
        }

        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            Array.Clear(items, 0, count);
        }

        while (true)
        {
            try
            {
                ArrayPool<T>.Shared.Return(items);
                return;
            }
            catch (ThreadInterruptedException)
            {
                // As in Rent.
            }
        }
    }
}
