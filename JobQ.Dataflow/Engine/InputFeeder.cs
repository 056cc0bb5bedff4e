using System.Diagnostics;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// Reads a run's input lazily, as the first stage's queue has room, and hands it to the pipeline's head in runs as
/// long as the stage asks for (<see cref="RunLength.Preferred"/>). Until items prove cheap to read (under 1 µs each),
/// a run is handed over at once whenever the stage could start it, so that an item never waits for a slow input to
/// fill a run; once they are cheap, filling a run takes microseconds.
/// </summary>
/// <typeparam name="T">The type of the input items.</typeparam>
/// <remarks>
/// <para>A sync input is read on a dedicated thread (its <c>MoveNext</c> may block); an async input on the thread
/// pool. An exception from the input stops the reading; what was read goes on, and the run rethrows the exception
/// once the rest is processed (jobq's behaviour).</para>
/// <para>Items read while the stage was busy wait in the feeder's hands until the stage is hungry or the run is full,
/// or the run has taken <see cref="RunLength.TargetRunTicks"/> to read (checked every 64 items); an input that
/// blocks in <c>MoveNext</c> therefore holds the few items read since the last hand-over until it returns.</para>
/// </remarks>
internal sealed class InputFeeder<T>
{
    private static readonly DedicatedThreadScheduler InputScheduler = new("JobQ input", int.MaxValue);

    private readonly Pipeline _pipeline;
    private readonly PipelineHead<T> _head;
    private readonly RunLength _runLength;
    private T[] _buffer;
    private int _count;
    private long _runStart;
    private bool _readIsCheap;

    private InputFeeder(Pipeline pipeline, PipelineHead<T> head)
    {
        _pipeline = pipeline;
        _head = head;
        _runLength = head.RunLength;
        _buffer = ItemRun<T>.Rent(_runLength.Max);
    }

    /// <summary>Gets the exception the input threw, which the run rethrows once finished.</summary>
    public Exception? Error { get; private set; }

    public static InputFeeder<T> Start(IEnumerable<T> input, Pipeline pipeline, PipelineHead<T> head)
    {
        var feeder = new InputFeeder<T>(pipeline, head);
        pipeline.InputStarted();

        // Every await of a sync input completes at once (its waits for room block), so the whole read stays on the
        // dedicated thread. The input's code sees the default scheduler, as user code in a Dataflow block does.
        Task.Factory.StartNew(() => feeder.FeedAsync(null, input), CancellationToken.None, TaskCreationOptions.DenyChildAttach | TaskCreationOptions.HideScheduler, InputScheduler);
        return feeder;
    }

    public static InputFeeder<T> Start(IAsyncEnumerable<T> input, Pipeline pipeline, PipelineHead<T> head)
    {
        var feeder = new InputFeeder<T>(pipeline, head);
        pipeline.InputStarted();
        _ = Task.Run(() => feeder.FeedAsync(input, null));
        return feeder;
    }

    /// <summary>Reads one of <paramref name="asyncInput"/> and <paramref name="syncInput"/> to its end, or until the pipeline stops.</summary>
    private async Task FeedAsync(IAsyncEnumerable<T>? asyncInput, IEnumerable<T>? syncInput)
    {
        var token = _pipeline.Token;
        IAsyncEnumerator<T>? enumerator = null;
        try
        {
            _pipeline.EnterInput();
            enumerator = syncInput is null
                ? asyncInput!.GetAsyncEnumerator(token) ?? throw new InvalidOperationException("The input's GetAsyncEnumerator returned null.")
                : new SyncEnumerator(syncInput.GetEnumerator() ?? throw new InvalidOperationException("The input's GetEnumerator returned null."));
            while (!token.IsCancellationRequested)
            {
                var next = enumerator.MoveNextAsync();
                var handedOver = true;
                if (!next.IsCompleted && _count != 0)
                {
                    // The input waits for more (a channel, a socket): what it has read goes on now, not with it.
                    _pipeline.ExitInput();
                    handedOver = await HandOverAsync(blocking: false).ConfigureAwait(false);
                    _pipeline.EnterInput();
                }

                if (!await next.ConfigureAwait(false) || !handedOver)
                {
                    break;
                }

                var item = enumerator.Current;
                _pipeline.ExitInput();
                if (Append(item) && !await HandOverAsync(blocking: syncInput is not null).ConfigureAwait(false))
                {
                    _pipeline.EnterInput();
                    break;
                }

                _pipeline.EnterInput();
            }
        }
        catch (Exception exception)
        {
            InputFailed(exception, syncInput is not null, token);
        }

        // Disposed apart, so that a disposal that throws after the input failed does not hide that first failure.
        try
        {
            _pipeline.EnterInput();
            if (enumerator is not null)
            {
                await enumerator.DisposeAsync().ConfigureAwait(false);
            }

            _pipeline.ExitInput();
        }
        catch (Exception exception)
        {
            InputFailed(exception, syncInput is not null, token);
        }

        if (_count != 0)
        {
            await HandOverAsync(blocking: syncInput is not null).ConfigureAwait(false);
        }

        Finish();
    }

    /// <summary>
    /// Adds an item to the run in hand; true when the run should be handed over now: it is as long as the stage asks
    /// for, or reading has taken a run's worth of time, or (while reading is not known to be cheap) the stage is hungry.
    /// </summary>
    private bool Append(T item)
    {
        if (_count == 0)
        {
            _runStart = Stopwatch.GetTimestamp();
        }

        _buffer[_count++] = item;
        return _count >= _runLength.Preferred
            || (!_readIsCheap && _head.IsHungry)
            || ((_count & 63) == 0 && Stopwatch.GetTimestamp() - _runStart > RunLength.TargetRunTicks);
    }

    /// <summary>Measures the run about to be handed over: while items are cheap to read, runs are filled rather than handed over early.</summary>
    private void Measure() => _readIsCheap = (Stopwatch.GetTimestamp() - _runStart) / _count < RunLength.CheapCallTicks / 20;

    /// <summary>
    /// Hands the run in hand to the stage, waiting while it has no room (<paramref name="blocking"/>: on the calling
    /// thread, which allocates nothing); false if it declines (the pipeline stopped).
    /// </summary>
    private async ValueTask<bool> HandOverAsync(bool blocking)
    {
        Measure();

        // The input's MoveNext may have left this thread interrupted; handing over may wait for a lock or for room.
        ThreadInterrupt.Clear();
        var run = new ItemRun<T>(_buffer, _count);
        while (!_head.TryPost(run))
        {
            if (!(blocking ? _head.Queue.WaitForRoom() : await _head.Queue.WaitForRoomAsync().ConfigureAwait(false)))
            {
                return Drop(run);
            }
        }

        return Renew();
    }

    private bool Renew()
    {
        _buffer = ItemRun<T>.Rent(_runLength.Max);
        _count = 0;
        return true;
    }

    private bool Drop(ItemRun<T> run)
    {
        run.Return();
        Renew();
        return false;
    }

    /// <summary>
    /// The input threw: recorded and logged, the first failure being the one the run rethrows. An async input cancelled
    /// by the pipeline's own token is the stop, not a failure of the input.
    /// </summary>
    private void InputFailed(Exception exception, bool sync, CancellationToken token)
    {
        // Back in our code before the failure is recorded: a stop meanwhile waits for the reader to end.
        _pipeline.ExitInput();
        if (sync || exception is not OperationCanceledException || !token.IsCancellationRequested)
        {
            Error ??= exception;
            _pipeline.SafeLog(logger => Log.InputFailed(logger, exception));
        }
    }

    private void Finish()
    {
        ItemRun<T>.Return(_buffer, _count);
        if (!_pipeline.Token.IsCancellationRequested)
        {
            _head.Complete();
        }

        _pipeline.InputEnded();
    }

    /// <summary>A sync input seen as an async one whose every step completes at once, on the reading thread.</summary>
    private sealed class SyncEnumerator(IEnumerator<T> inner) : IAsyncEnumerator<T>
    {
        public T Current => inner.Current;

        public ValueTask<bool> MoveNextAsync() => new(inner.MoveNext());

        public ValueTask DisposeAsync()
        {
            inner.Dispose();
            return default;
        }
    }
}
