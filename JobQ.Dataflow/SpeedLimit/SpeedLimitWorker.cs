using Microsoft.Extensions.Logging;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// The worker of a speed-limit stage: passes each item on unchanged, no sooner than its due time. Item <c>k</c>
/// of a pacing window (counting <c>jobStep</c> units each) is due <c>units / speed</c> seconds after the window's
/// start; a timer waits for that, holding no thread. Timer lateness is absorbed: items already due pass at once.
/// </summary>
/// <remarks>
/// <para>The window restarts every 5 seconds (as in jobq) and also whenever the rate read from the limit changes, so
/// that a new rate applies from that moment: raising it never releases a burst to catch up, lowering it never
/// stalls the stage to pay back items that went by at the old rate.</para>
/// <para>The stage has one lane, so calls never overlap and the pacing state needs no lock.</para>
/// </remarks>
internal sealed class SpeedLimitWorker<T>(SpeedLimit limit, StageContext context) : StageWorker<T, T>
{
    private readonly TimeProvider _time = context.TimeProvider;
    private long _windowStart = -1;
    private double _units;
    private double _speed = double.NaN;

    public override bool IsAsync => true;

    public override ValueTask InvokeAsync(T item, IOutput<T> output, CancellationToken cancellationToken)
    {
        var previous = _speed;
        var speed = ReadSpeed();
        var now = _time.GetTimestamp();
        if (_windowStart < 0)
        {
            _windowStart = now;
        }
        else
        {
            var elapsed = _time.GetElapsedTime(_windowStart, now);
            if (elapsed >= SpeedLimit.ResetPeriod || (speed != previous && !double.IsNaN(previous)))
            {
                Report(elapsed, speed);
                _windowStart = now;
                _units = 0;
            }
        }

        _units += limit.JobStep;
        var due = TimeSpan.FromSeconds(_units / speed) - _time.GetElapsedTime(_windowStart, now);
        if (due <= TimeSpan.Zero)
        {
            output.Add(item);
            return default;
        }

        return Delayed(item, output, due, cancellationToken);
    }

    private async ValueTask Delayed(T item, IOutput<T> output, TimeSpan due, CancellationToken cancellationToken)
    {
        await Task.Delay(due, _time, cancellationToken).ConfigureAwait(false);
        output.Add(item);
    }

    private double ReadSpeed()
    {
        double value;
        try
        {
            value = limit.MaxJobSpeed();
        }
        catch (Exception exception)
        {
            context.SafeLog(logger => Log.SpeedFunctionFailed(logger, context.Name, _speed, exception));
            return Kept();
        }

        if (double.IsNaN(value) || value <= 0)
        {
            context.SafeLog(logger => Log.BadSpeed(logger, context.Name, value, _speed));
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

        context.SafeLog(logger =>
        {
            if (logger.IsEnabled(LogLevel.Information))
            {
                Log.SpeedReport(logger, context.Name, _units / elapsed.TotalSeconds, elapsed.TotalSeconds, speed);
            }
        });
    }
}
