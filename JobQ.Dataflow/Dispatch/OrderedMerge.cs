using System.Buffers;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// Puts a dispatcher stage's outputs back in input order: the router records, per input run, which partition each
/// item went to (the route log); partitions send their outputs in the order they took their items; the merge emits
/// each item's outputs when every item before it has been emitted. Used by one thread at a time (a block with
/// <c>MaxDegreeOfParallelism</c> 1).
/// </summary>
/// <typeparam name="T">The type of the outputs.</typeparam>
/// <remarks>A partition's outputs wait here (jobq's per-partition output queue) until their turn comes.</remarks>
internal sealed class OrderedMerge<T>
{
    // The route log: written by the router, read by the merge (a different thread), hence concurrent.
    private readonly System.Collections.Concurrent.ConcurrentQueue<(int[] Partitions, int Count)> _routes = new();
    private readonly Queue<Pending>[] _pending;
    private readonly int[] _waiting;
    private int[]? _route;
    private int _routeCount;
    private int _routeIndex;

    public OrderedMerge(int partitions)
    {
        _pending = new Queue<Pending>[partitions];
        _waiting = new int[partitions];
        for (var i = 0; i < partitions; i++)
        {
            _pending[i] = new Queue<Pending>();
        }
    }

    /// <summary>Gets how many items' outputs the merge has passed on so far (used by one thread at a time).</summary>
    public long Merged { get; private set; }

    /// <summary>Gets the number of items partition <paramref name="partition"/> finished that wait for their turn (read racily, for stats).</summary>
    public int Waiting(int partition) => Volatile.Read(ref _waiting[partition]);

    /// <summary>Records the partitions of a routed run's items, in input order; <paramref name="partitions"/> is rented and owned by the merge.</summary>
    public void Route(int[] partitions, int count) => _routes.Enqueue((partitions, count));

    /// <summary>Takes a partition's outputs and writes every output whose turn has come into <paramref name="output"/>.</summary>
    public void Add(PartitionOutput<T> result, IOutput<T> output)
    {
        _pending[result.Partition].Enqueue(new Pending(result));
        Interlocked.Add(ref _waiting[result.Partition], result.Items);
        while (NextPartition() is var partition && partition >= 0 && _pending[partition].TryPeek(out var pending))
        {
            // Every item of this partition run whose turn comes in a row is merged at once.
            var merged = 0;
            do
            {
                var outputs = pending.Result.Counts[pending.Item];
                for (var i = 0; i < outputs; i++)
                {
                    output.Add(pending.Result.Values.Items[pending.Value + i]);
                }

                pending.Value += outputs;
                pending.Item++;
                merged++;
                _routeIndex++;
            }
            while (pending.Item < pending.Result.Items && _routeIndex < _routeCount && _route![_routeIndex] == partition);

            Merged += merged;
            Interlocked.Add(ref _waiting[partition], -merged);
            if (pending.Item == pending.Result.Items)
            {
                _pending[partition].Dequeue();
                pending.Result.Values.Return();
                ArrayPool<int>.Shared.Return(pending.Result.Counts);
            }
        }
    }

    /// <summary>Returns the partition of the next item in input order, or -1 when the log has none yet.</summary>
    private int NextPartition()
    {
        while (_route is null || _routeIndex == _routeCount)
        {
            if (_route is not null)
            {
                ArrayPool<int>.Shared.Return(_route);
                _route = null;
            }

            if (!_routes.TryDequeue(out var next))
            {
                return -1;
            }

            (_route, _routeCount, _routeIndex) = (next.Partitions, next.Count, 0);
        }

        return _route[_routeIndex];
    }

    /// <summary>A partition run being merged, and how far.</summary>
    private sealed class Pending(PartitionOutput<T> result)
    {
        public PartitionOutput<T> Result { get; } = result;

        public int Item { get; set; }

        public int Value { get; set; }
    }
}
