using System.Diagnostics;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// Reads a run's input lazily, as the first stage's queue has room, and hands it to the pipeline's head in runs:
/// as long as the stage asks for (<see cref="RunLength.Preferred"/>), but at once whenever the stage could start a
/// run and has none queued, so that one item alone goes through without waiting for a run to fill.
/// </summary>
/// <typeparam name="T">The type of the input items.</typeparam>
/// <remarks>
/// <para>A sync input is read on a dedicated thread (its <c>MoveNext</c> may block); an async input on the thread
/// pool. An exception from the input stops the reading; what was read goes on, and the run rethrows the exception
/// once the rest is processed (jobq's behaviour).</para>
/// <para>Items read while the stage was busy wait in the feeder's hands until the stage is hungry or the run is full,
/// or the run has taken <see cref="RunLength.TargetRunTicks"/> to read (checked every few items); an input that
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
        pipeline.LoopStarted();
        Task.Factory.StartNew(static state => ((InputFeeder<T>)((object[])state!)[0]).Feed((IEnumerable<T>)((object[])state!)[1]), new object[] { feeder, input }, CancellationToken.None, TaskCreationOptions.DenyChildAttach, InputScheduler);
        return feeder;
    }

    public static InputFeeder<T> Start(IAsyncEnumerable<T> input, Pipeline pipeline, PipelineHead<T> head)
    {
        var feeder = new InputFeeder<T>(pipeline, head);
        pipeline.LoopStarted();
        _ = Task.Run(() => feeder.FeedAsync(input));
        return feeder;
    }

    private void Feed(IEnumerable<T> input)
    {
        var token = _pipeline.Token;
        try
        {
            _pipeline.EnterUserCode();
            using var enumerator = input.GetEnumerator();
            while (!token.IsCancellationRequested && enumerator.MoveNext())
            {
                var item = enumerator.Current;
                _pipeline.ExitUserCode();
                if (Append(item) && !HandOver())
                {
                    _pipeline.EnterUserCode();
                    break;
                }

                _pipeline.EnterUserCode();
            }

            _pipeline.ExitUserCode();
        }
        catch (Exception exception)
        {
            _pipeline.ExitUserCode();
            Failed(exception);
        }

        if (_count != 0)
        {
            HandOver();
        }

        Finish();
    }

    private async Task FeedAsync(IAsyncEnumerable<T> input)
    {
        var token = _pipeline.Token;
        try
        {
            _pipeline.EnterUserCode();
            var enumerator = input.GetAsyncEnumerator(token);
            await using (enumerator.ConfigureAwait(false))
            {
                while (!token.IsCancellationRequested && await enumerator.MoveNextAsync().ConfigureAwait(false))
                {
                    var item = enumerator.Current;
                    _pipeline.ExitUserCode();
                    if (Append(item) && !await HandOverAsync().ConfigureAwait(false))
                    {
                        _pipeline.EnterUserCode();
                        break;
                    }

                    _pipeline.EnterUserCode();
                }
            }

            _pipeline.ExitUserCode();
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            _pipeline.ExitUserCode();
        }
        catch (Exception exception)
        {
            _pipeline.ExitUserCode();
            Failed(exception);
        }

        if (_count != 0)
        {
            await HandOverAsync().ConfigureAwait(false);
        }

        Finish();
    }

    /// <summary>Adds an item to the run in hand; true when the run should be handed over now.</summary>
    private bool Append(T item)
    {
        if (_count == 0)
        {
            _runStart = Stopwatch.GetTimestamp();
        }

        _buffer[_count++] = item;
        return _count >= _runLength.Preferred
            || _head.IsHungry
            || ((_count & 15) == 0 && Stopwatch.GetTimestamp() - _runStart > RunLength.TargetRunTicks);
    }

    /// <summary>Hands the run in hand to the stage, blocking while it has no room; false if it declines (the pipeline stopped).</summary>
    private bool HandOver()
    {
        var run = new ItemRun<T>(_buffer, _count);
        while (!_head.TryPost(run))
        {
            if (!_head.Queue.WaitForRoomAsync().GetAwaiter().GetResult())
            {
                return Drop(run);
            }
        }

        return Renew();
    }

    /// <summary>The async twin of <see cref="HandOver"/>.</summary>
    private async ValueTask<bool> HandOverAsync()
    {
        var run = new ItemRun<T>(_buffer, _count);
        while (!_head.TryPost(run))
        {
            if (!await _head.Queue.WaitForRoomAsync().ConfigureAwait(false))
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

    private void Failed(Exception exception)
    {
        Error = exception;
        _pipeline.SafeLog(logger => Log.InputFailed(logger, exception));
    }

    private void Finish()
    {
        ItemRun<T>.Return(_buffer, _count);
        if (!_pipeline.Token.IsCancellationRequested)
        {
            _head.Complete();
        }

        _pipeline.LoopExited();
    }
}
