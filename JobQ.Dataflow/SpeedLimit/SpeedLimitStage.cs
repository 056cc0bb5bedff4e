using Microsoft.Extensions.Logging;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// A speed-limit stage (jobq's <c>limit_job_speed</c>): an <see cref="ActionBlock{TInput}"/> that passes each item on
/// unchanged, no sooner than its due time, into a <see cref="BufferBlock{T}"/> that the next stage takes from. Item
/// <c>k</c> of a pacing window (counting <c>jobStep</c> units each) is due <c>units / speed</c> seconds after the
/// window's start; a timer of the run's <see cref="TimeProvider"/> waits for it, holding no thread. Timer lateness is
/// absorbed: items already due pass at once, together in one run.
/// </summary>
/// <remarks>
/// <para>The window restarts every 5 seconds (as in jobq, logging the speed reached) and whenever the rate read from
/// the limit changes, so that a new rate applies from that moment: raising it never releases a burst to catch up,
/// lowering it never stalls the stage to pay back items that went by at the old rate.</para>
/// <para>The block's <c>MaxDegreeOfParallelism</c> is 1, so the pacing state needs no lock. Before each wait the items
/// already due go on, so each item goes on at its due time even inside a long run (a run cut while items passed
/// unheld); and while the limit holds items back the stage asks for runs of one item (<see cref="RunLength"/>), which
/// grow again while items pass unheld. A <c>TransformManyBlock</c> could not hand an async call's outputs over before
/// the call ends without holding a thread.</para>
/// </remarks>
internal sealed class SpeedLimitStage<T> : Stage<T, T>
{
    /// <summary>The longest wait a timer can express; a slower rate from a function waits this long, and says so once.</summary>
    private static readonly TimeSpan LongestWait = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    private readonly SpeedLimit _limit;
    private readonly StageDoor<T> _door;
    private readonly ActionBlock<ItemRun<T>> _block;
    private readonly BufferBlock<ItemRun<T>> _output;
    private readonly CancellationToken _stop;
    private long _windowStart = -1;
    private double _units;
    private double _speed = double.NaN;
    private bool _clampLogged;

    public SpeedLimitStage(Pipeline pipeline, int index, string name, SpeedLimit limit)
        : base(pipeline, index, name, null)
    {
        _limit = limit;
        _stop = pipeline.Token;
        RunLength = new RunLength(pipeline.QueueSize, 1);
        _block = new ActionBlock<ItemRun<T>>(PaceAsync, new ExecutionDataflowBlockOptions { CancellationToken = _stop });
        _output = new BufferBlock<ItemRun<T>>(new DataflowBlockOptions { CancellationToken = _stop });
        CompleteWhen(_block.Completion, _output);
        _door = new StageDoor<T>(_block, Queue, 1, _stop);
    }

    public override StageDoor<T> Door => _door;

    public override RunLength RunLength { get; }

    public override ISourceBlock<ItemRun<T>> Output => _output;

    public override IEnumerable<IDataflowBlock> Blocks => [_block, _output];

    public override Task Completion => _output.Completion;

    public override int WorkerCount => 1;

    private TimeProvider Time => Pipeline.TimeProvider;

    private async Task PaceAsync(ItemRun<T> input)
    {
        var progress = Counters.Begin(input.Count);
        Queue.Take(input.Count);
        var writer = RunWriter<T>.Rent(Next?.RunLength, progress);
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        var waited = false;
        var i = 0;
        for (; i < input.Count && !_stop.IsCancellationRequested; i++)
        {
            progress.Start();
            try
            {
                var due = Due();
                if (due > TimeSpan.Zero)
                {
                    waited = true;

                    // The items before this one are due already: they go on now, not when the run ends.
                    Send(Handed(writer.TakeAll()));
                    await Task.Delay(due, Time, _stop).ConfigureAwait(false);
                }
            }
            catch (Exception exception)
            {
                // The stop ends the wait. Anything else is the run's clock failing, and the clock is the user's, as for
                // the pipeline's own timers: the run stops with that exception.
                if (exception is not OperationCanceledException || !_stop.IsCancellationRequested)
                {
                    Pipeline.Fail(exception);
                }

                progress.Finish();
                break;
            }

            writer.Add(input.Items[i]);
            progress.Finish();
        }

        // While the limit holds items back, runs of one item, so that each goes on at its due time; while it does not,
        // runs as long as for any cheap stage.
        RunLength.Record(i, waited ? long.MaxValue / 4 : System.Diagnostics.Stopwatch.GetTimestamp() - start);
        Send(EndRun(input, progress, writer));
    }

    /// <summary>Passes runs on to the next stage; once the pipeline stopped, the buffer declines them and they are dropped.</summary>
    private void Send(IEnumerable<ItemRun<T>> runs)
    {
        foreach (var run in runs)
        {
            if (!_output.Post(run))
            {
                run.Return();
            }
        }
    }

    /// <summary>Counts the next item into the window and returns how long until it is due.</summary>
    private TimeSpan Due()
    {
        var previous = _speed;
        var speed = ReadSpeed();
        var now = Time.GetTimestamp();
        if (_windowStart < 0)
        {
            _windowStart = now;
        }
        else
        {
            var elapsed = Time.GetElapsedTime(_windowStart, now);
            if (elapsed >= SpeedLimit.ResetPeriod || elapsed < TimeSpan.Zero || (speed != previous && !double.IsNaN(previous)))
            {
                // The window ran under the limit read before this item: the new one starts the next window. A clock
                // that stepped back starts one too, rather than hold items back for the time it lost.
                Report(elapsed, double.IsNaN(previous) ? speed : previous);
                _windowStart = now;
                _units = 0;
            }
        }

        _units += _limit.JobStep;
        var dueSeconds = (_units / speed) - Time.GetElapsedTime(_windowStart, now).TotalSeconds;
        if (dueSeconds <= 0)
        {
            return TimeSpan.Zero;
        }

        if (dueSeconds >= LongestWait.TotalSeconds)
        {
            if (!_clampLogged)
            {
                _clampLogged = true;
                Pipeline.SafeLog(logger => Log.SpeedClamped(logger, Name, speed, _limit.JobStep, LongestWait));
            }

            return LongestWait;
        }

        return TimeSpan.FromSeconds(dueSeconds);
    }

    private double ReadSpeed()
    {
        double value;
        try
        {
            value = _limit.MaxJobSpeed();
        }
        catch (Exception exception)
        {
            Pipeline.SafeLog(logger => Log.SpeedFunctionFailed(logger, Name, KeptText, exception));
            return Kept();
        }

        if (double.IsNaN(value) || value <= 0)
        {
            Pipeline.SafeLog(logger => Log.BadSpeed(logger, Name, value, KeptText));
            return Kept();
        }

        return _speed = value;
    }

    // Before any valid reading there is nothing to keep: pass items through at no limit until one comes.
    private double Kept() => double.IsNaN(_speed) ? double.PositiveInfinity : _speed;

    private string KeptText => double.IsNaN(_speed) ? "no limit (no good reading yet)" : $"{_speed} units/s";

    private void Report(TimeSpan elapsed, double speed)
    {
        if (elapsed <= TimeSpan.Zero)
        {
            return;
        }

        Pipeline.SafeLog(logger =>
        {
            if (logger.IsEnabled(LogLevel.Information))
            {
                Log.SpeedReport(logger, Name, _units / elapsed.TotalSeconds, elapsed.TotalSeconds, speed);
            }
        });
    }
}
