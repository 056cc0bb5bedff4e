using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// Reads the run's input lazily into the first stage's queue. A sync sequence is read on a dedicated thread
/// (its <c>MoveNext</c> may block); an async one on an async loop.
/// </summary>
/// <remarks>
/// Items are passed on in runs, but never more than the queue has room for: the input is read at most the
/// first queue's capacity (plus the one item in hand) ahead of the first stage. An exception from the input
/// stops the reading; the items already queued are still processed, and the run rethrows it at the end.
/// </remarks>
internal sealed class Feeder<T>
{
    private readonly ItemQueue<T> _queue;
    private readonly PipelineRuntime _runtime;
    private readonly T[] _buffer;
    private int _count;

    // Items are passed on in runs of _flushAt, which starts at one and doubles while the input proves cheap (under
    // CheapTicks per item), so an enumerator that blocks early never holds items back, and a fast one is batched.
    private static readonly long CheapTicks = Math.Max(1, System.Diagnostics.Stopwatch.Frequency / 100_000);
    private int _flushAt = 1;
    private long _runStart;

    private Feeder(ItemQueue<T> queue, PipelineRuntime runtime)
    {
        _queue = queue;
        _runtime = runtime;
        _buffer = new T[runtime.MaxRun];
    }

    /// <summary>Gets the exception the input threw, if it did.</summary>
    public Exception? Error { get; private set; }

    public static Feeder<T> Start(IEnumerable<T> input, ItemQueue<T> queue, PipelineRuntime runtime)
    {
        var feeder = new Feeder<T>(queue, runtime);
        runtime.LoopStarted();
        DedicatedThreads.Shared.Start(
            "JobQ input",
            static state =>
            {
                var (feeder, input) = ((Feeder<T>, IEnumerable<T>))state!;
                feeder.Feed(input);
            },
            (feeder, input));
        return feeder;
    }

    public static Feeder<T> Start(IAsyncEnumerable<T> input, ItemQueue<T> queue, PipelineRuntime runtime)
    {
        var feeder = new Feeder<T>(queue, runtime);
        runtime.LoopStarted();
        _ = Task.Run(() => feeder.FeedAsync(input));
        return feeder;
    }

    private void Feed(IEnumerable<T> input)
    {
        var waiter = new SyncWaiter();
        var token = _runtime.Token;
        try
        {
            _runtime.SetInputInUserCode(true);
            using var enumerator = input.GetEnumerator();
            while (!token.IsCancellationRequested && enumerator.MoveNext())
            {
                var item = enumerator.Current;
                _runtime.SetInputInUserCode(false);
                if (Append(item))
                {
                    _queue.Write(_buffer.AsSpan(0, _count), waiter);
                    Clear();
                }

                _runtime.SetInputInUserCode(true);
            }

            _runtime.SetInputInUserCode(false);
        }
        catch (Exception exception)
        {
            _runtime.SetInputInUserCode(false);
            OnInputFailed(exception);
        }

        Finish(() => _queue.Write(_buffer.AsSpan(0, _count), waiter));
    }

    private async Task FeedAsync(IAsyncEnumerable<T> input)
    {
        var waiter = new AsyncWaiter();
        var token = _runtime.Token;
        try
        {
            _runtime.SetInputInUserCode(true);
            var enumerator = input.GetAsyncEnumerator(token);
            await using (enumerator.ConfigureAwait(false))
            {
                while (!token.IsCancellationRequested && await enumerator.MoveNextAsync().ConfigureAwait(false))
                {
                    var item = enumerator.Current;
                    _runtime.SetInputInUserCode(false);
                    if (Append(item))
                    {
                        await _queue.WriteAsync(_buffer.AsMemory(0, _count), waiter).ConfigureAwait(false);
                        Clear();
                    }

                    _runtime.SetInputInUserCode(true);
                }
            }

            _runtime.SetInputInUserCode(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            _runtime.SetInputInUserCode(false);
        }
        catch (Exception exception)
        {
            _runtime.SetInputInUserCode(false);
            OnInputFailed(exception);
        }

        if (_count != 0 && !token.IsCancellationRequested)
        {
            await _queue.WriteAsync(_buffer.AsMemory(0, _count), waiter).ConfigureAwait(false);
        }

        Finish(null);
    }

    /// <summary>Buffers an item; true when the buffer should be passed on now.</summary>
    private bool Append(T item)
    {
        if (_count == 0)
        {
            _runStart = System.Diagnostics.Stopwatch.GetTimestamp();
        }

        _buffer[_count++] = item;
        if (_count < _flushAt && !_queue.HasWaitingReaders && _count < _queue.FreeSpace)
        {
            return false;
        }

        var perItem = (System.Diagnostics.Stopwatch.GetTimestamp() - _runStart) / _count;
        _flushAt = perItem > CheapTicks ? 1 : _count == _flushAt ? Math.Min(_flushAt * 2, _buffer.Length) : _flushAt;
        return true;
    }

    private void Clear()
    {
        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            Array.Clear(_buffer, 0, _count);
        }

        _count = 0;
    }

    private void OnInputFailed(Exception exception)
    {
        Error = exception;
        try
        {
            if (_runtime.Logger.IsEnabled(LogLevel.Error))
            {
                Log.InputFailed(_runtime.Logger, exception);
            }
        }
        catch (Exception)
        {
            // The run rethrows the input's exception; a broken logger must not replace it.
        }
    }

    private void Finish(Action? writeRest)
    {
        try
        {
            if (!_runtime.Token.IsCancellationRequested)
            {
                if (_count != 0)
                {
                    writeRest?.Invoke();
                }

                _queue.Complete();
            }
        }
        catch (Exception exception)
        {
            _runtime.Fail(exception, null);
        }
        finally
        {
            Clear();
            _runtime.LoopExited();
        }
    }
}
