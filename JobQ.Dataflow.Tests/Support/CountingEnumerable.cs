using System.Collections;

namespace JobQ.Dataflow.Tests.Support;

/// <summary>An input sequence 0..count-1 that counts how many elements were read (successful <c>MoveNext</c> calls) and enumerations.</summary>
internal sealed class CountingEnumerable(int count) : IEnumerable<int>
{
    private int _read;
    private int _enumerations;

    /// <summary>Gets how many elements have been read so far.</summary>
    public int Read => Volatile.Read(ref _read);

    /// <summary>Gets how many times <see cref="GetEnumerator"/> was called.</summary>
    public int Enumerations => Volatile.Read(ref _enumerations);

    public IEnumerator<int> GetEnumerator()
    {
        Interlocked.Increment(ref _enumerations);
        return Iterate();
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private IEnumerator<int> Iterate()
    {
        for (var i = 0; i < count; i++)
        {
            Interlocked.Increment(ref _read);
            yield return i;
        }
    }
}
