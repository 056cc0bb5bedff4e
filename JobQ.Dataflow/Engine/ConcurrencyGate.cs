namespace JobQ.Dataflow.Internal;

/// <summary>
/// The concurrency of a resizable stage: at most <see cref="Limit"/> runs hold it at once. The stage's block has
/// <c>MaxDegreeOfParallelism</c> as a cap only; its delegate waits here (holding no thread) before processing a run,
/// so that <see cref="SetLimit"/> changes the stage's concurrency while it runs.
/// </summary>
/// <remarks>
/// Growing lets waiting runs in at once; shrinking lets the runs in progress finish and admits no new one until fewer
/// than the new limit hold the gate. Waiters are admitted first come, first served. <c>_lock</c> guards every field.
/// </remarks>
internal sealed class ConcurrencyGate(int limit)
{
    private readonly Lock _lock = new();
    private readonly Queue<TaskCompletionSource<bool>> _waiters = new();
    private int _limit = limit;
    private int _held;
    private bool _cancelled;

    /// <summary>Gets the number of runs that may hold the gate at once.</summary>
    public int Limit => Volatile.Read(ref _limit);

    /// <summary>Enters if fewer than <see cref="Limit"/> hold the gate and nobody waits.</summary>
    public bool TryEnter()
    {
        lock (_lock)
        {
            if (_cancelled || _held >= _limit || _waiters.Count != 0)
            {
                return false;
            }

            _held++;
            return true;
        }
    }

    /// <summary>Waits to enter; false once the gate is cancelled (the pipeline stopped).</summary>
    public Task<bool> EnterAsync()
    {
        lock (_lock)
        {
            if (_cancelled)
            {
                return Task.FromResult(false);
            }

            if (_held < _limit && _waiters.Count == 0)
            {
                _held++;
                return Task.FromResult(true);
            }

            // Continuations run where the waiter awaits (the stage's scheduler), not on the thread that exits.
            var waiter = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Enqueue(waiter);
            return waiter.Task;
        }
    }

    public void Exit()
    {
        TaskCompletionSource<bool>? next;
        lock (_lock)
        {
            _held--;
            next = TakeWaiterLocked();
        }

        next?.TrySetResult(true);
    }

    public void SetLimit(int limit)
    {
        List<TaskCompletionSource<bool>>? admitted = null;
        lock (_lock)
        {
            _limit = limit;
            while (TakeWaiterLocked() is { } next)
            {
                (admitted ??= []).Add(next);
            }
        }

        if (admitted is not null)
        {
            foreach (var waiter in admitted)
            {
                waiter.TrySetResult(true);
            }
        }
    }

    /// <summary>Releases every waiter with false; no run enters afterwards.</summary>
    public void Cancel()
    {
        TaskCompletionSource<bool>[] waiters;
        lock (_lock)
        {
            _cancelled = true;
            waiters = [.. _waiters];
            _waiters.Clear();
        }

        foreach (var waiter in waiters)
        {
            waiter.TrySetResult(false);
        }
    }

    private TaskCompletionSource<bool>? TakeWaiterLocked()
    {
        if (_cancelled || _held >= _limit || !_waiters.TryDequeue(out var next))
        {
            return null;
        }

        _held++;
        return next;
    }
}
