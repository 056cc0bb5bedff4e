using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// A speed-limit stage (jobq's <c>limit_job_speed</c>): a block that passes each item on unchanged, no sooner than
/// its due time. Item <c>k</c> of a pacing window (counting <c>jobStep</c> units each) is due <c>units / speed</c>
/// seconds after the window's start; a timer of the run's <see cref="TimeProvider"/> waits for it, holding no
/// thread. Timer lateness is absorbed: items already due pass at once, together in one run.
/// </summary>
/// <remarks>
/// <para>The window restarts every 5 seconds (as in jobq, logging the speed reached) and whenever the rate read from
/// the limit changes, so that a new rate applies from that moment: raising it never releases a burst to catch up,
/// lowering it never stalls the stage to pay back items that went by at the old rate.</para>
/// <para>The block's <c>MaxDegreeOfParallelism</c> is 1, so the pacing state needs no lock. Items ready to go are
/// handed over before each wait, so none waits for a run to fill.</para>
/// </remarks>
internal sealed class SpeedLimitStage<T> : Stage<T, T>
{
    /// <summary>The longest wait a timer can express; a slower rate from a function waits this long, and says so once.</summary>
    private static readonly TimeSpan LongestWait = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    private readonly SpeedLimit _limit;
    private readonly StageDoor<T> _door;
    private readonly TransformManyBlock<ItemRun<T>, ItemRun<T>> _block;
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
        _block = new TransformManyBlock<ItemRun<T>, ItemRun<T>>(Pace, new ExecutionDataflowBlockOptions { CancellationToken = _stop });
        _door = new StageDoor<T>(_block, pipeline.QueueSize, Math.Max(1, pipeline.QueueSize - RunLength.Max), _stop);
    }

    public override StageDoor<T> Door => _door;

    public override RunLength RunLength { get; }

    public override ISourceBlock<ItemRun<T>> Output => _block;

    public override IEnumerable<IDataflowBlock> Blocks => [_block];

    public override Task Completion => _block.Completion;

    public override int WorkerCount => 1;

    protected override int MaxRun => RunLength.Max;

    private TimeProvider Time => Pipeline.TimeProvider;

    private async IAsyncEnumerable<ItemRun<T>> Pace(ItemRun<T> input)
    {
        _door.Started(input.Count);
        _door.RunStarted();
        var progress = Counters.Begin();
        var writer = new RunWriter<T>(Next?.RunLength, progress);
        try
        {
            for (var i = 0; i < input.Count && !_stop.IsCancellationRequested; i++)
            {
                progress.Start();
                var due = Due();
                if (due > TimeSpan.Zero)
                {
                    foreach (var run in Counted(writer.TakeAll()))
                    {
                        yield return run;
                    }

                    try
                    {
                        await Task.Delay(due, Time, _stop).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        progress.Finish();
                        break;
                    }
                }

                writer.Add(input.Items[i]);
                progress.Finish();
            }
        }
        finally
        {
            Counters.End(progress);
            input.Return();
            _door.RunEnded();
        }

        if (_stop.IsCancellationRequested)
        {
            writer.Discard();
            Pipeline.CheckQuiescent();
            yield break;
        }

        foreach (var run in Counted(writer.TakeAll()))
        {
            yield return run;
        }
    }

    private ItemRun<T>[] Counted(ItemRun<T>[] runs)
    {
        foreach (var run in runs)
        {
            Queue.AddBacklog(run.Count);
        }

        return runs;
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
            if (elapsed >= SpeedLimit.ResetPeriod || (speed != previous && !double.IsNaN(previous)))
            {
                Report(elapsed, speed);
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
                Pipeline.SafeLog(logger => Log.SpeedClamped(logger, Name, speed, LongestWait));
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
            Pipeline.SafeLog(logger => Log.SpeedFunctionFailed(logger, Name, _speed, exception));
            return Kept();
        }

        if (double.IsNaN(value) || value <= 0)
        {
            Pipeline.SafeLog(logger => Log.BadSpeed(logger, Name, value, _speed));
            return Kept();
        }

        return _speed = value;
    }

    // Before any valid reading there is nothing to keep: pass items through at no limit until one comes.
    private double Kept() => double.IsNaN(_speed) ? double.PositiveInfinity : _speed;

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
