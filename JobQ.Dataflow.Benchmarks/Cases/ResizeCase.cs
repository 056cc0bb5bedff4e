using System.Diagnostics;
using JobQ.Dataflow.Benchmarks.Infrastructure;

namespace JobQ.Dataflow.Benchmarks.Cases;

/// <summary>
/// How fast <c>SetThreadNum</c> takes effect on a running JobManager whose first stage's worker holds every call on
/// a gate (a ManualResetEventSlim the benchmark opens), with 1,000 items queued so the stage never runs dry.
/// Both times run from the Stopwatch read just before the SetThreadNum call (the call itself included) to the
/// first poll that sees the effect; the poller spins with Thread.Yield, so a poll is at most one yield late:
/// <list type="bullet">
/// <item>grow, 1 -> 4, with 1 call held at the gate: until 4 calls are in progress at once (counted by the worker
/// with Interlocked);</item>
/// <item>shrink, 4 -> 1, with 4 calls held at the gate: until <c>Stat().Stages[0].WorkerCount</c> reads 1. Then,
/// untimed, the check that the shrink holds: calls that start from then on wait on a new closed gate, the old gate
/// opens so the 4 held calls finish, and once they have and one new call is in progress (2 ms more are given for
/// any other to start) no more than 1 call may have been in progress on the new gate at any moment. A breach
/// fails the row.</item>
/// </list>
/// Each of <see cref="Cycles"/> cycles grows then shrinks, after <see cref="WarmUpCycles"/> untimed ones (the
/// first SetThreadNum compiles its code); the rows give the medians. Target: 100 µs each. The same grow is then
/// timed again in cycles with no idle gap (no 2 ms wait, no shrink check): the gap lets the machine's cores go idle,
/// and the first row includes waking them, which on a virtual machine can cost more than the resize itself.
/// </summary>
internal sealed class ResizeCase : IQuickCase
{
    private const int Cycles = 20;
    private const int WarmUpCycles = 3;
    private const int Queued = 1000;
    private const double Target = 100e-6;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    /// <inheritdoc/>
    public string Name => "resize";

    /// <inheritdoc/>
    public IEnumerable<Row> Run(QuickSettings settings)
    {
        var cycles = Math.Max(3, settings.Size(Cycles));
        var gated = new GatedWorker();

        // SetThreadNum finds the stage by its delegate: the one given to Then is cached and passed again.
        Func<int, int> hold = gated.Hold;
        var grow = new List<double>();
        var growCall = new List<double>();
        var shrink = new List<double>();
        var busyGrow = new List<double>();
        var floor = new List<double>();
        var breaches = 0;
        using var parked = new ParkedThreads(3);
        using (var manager = JobManager.Create(Workers.Of<int>().Then(hold).Then(Discard)))
        {
            for (var i = 0; i < Queued; i++)
            {
                manager.Put(i);
            }

            WaitUntil(() => gated.InProgress == 1);
            for (var c = -WarmUpCycles; c < cycles; c++)
            {
                var start = Stopwatch.GetTimestamp();
                manager.SetThreadNum(hold, 4);
                var call = Stopwatch.GetElapsedTime(start).TotalSeconds;
                var grown = WaitUntil(() => gated.InProgress == 4, start);

                start = Stopwatch.GetTimestamp();
                manager.SetThreadNum(hold, 1);
                var shrunk = WaitUntil(() => manager.Stat().Stages[0].WorkerCount == 1, start);
                if (c >= 0)
                {
                    growCall.Add(call);
                    grow.Add(grown);
                    shrink.Add(shrunk);
                }

                var completed = gated.Completed;
                var held = gated.SwapGate();
                held.Open();
                WaitUntil(() => gated.Completed >= completed + 4 && gated.Current.InProgress >= 1);
                Thread.Sleep(2); // room for a second call to start, if the shrink did not hold
                if (gated.Current.MaxInProgress > 1)
                {
                    breaches++;
                }

                // The floor, after the same idle gap: three plain threads parked on a semaphore, woken at once.
                Thread.Sleep(2);
                var wake = parked.Wake();
                if (c >= 0)
                {
                    floor.Add(wake);
                }
            }

            for (var c = -WarmUpCycles; c < cycles; c++)
            {
                var start = Stopwatch.GetTimestamp();
                manager.SetThreadNum(hold, 4);
                var grown = WaitUntil(() => gated.InProgress == 4, start);
                manager.SetThreadNum(hold, 1);
                if (c >= 0)
                {
                    busyGrow.Add(grown);
                }

                var completed = gated.Completed;
                gated.SwapGate().Open();
                WaitUntil(() => gated.Completed >= completed + 4 && gated.Current.InProgress >= 1);
            }

            gated.Current.Open();
            if (!manager.Join(Bound))
            {
                throw new TimeoutException("Join did not complete.");
            }
        }

        Console.Error.WriteLine($"      grow: [{string.Join(", ", grow.Select(Measure.Time))}]; of which the SetThreadNum call: [{string.Join(", ", growCall.Select(Measure.Time))}]");
        Console.Error.WriteLine($"      shrink: [{string.Join(", ", shrink.Select(Measure.Time))}]; cycles where more than 1 call ran after the shrink: {breaches}");
        Console.Error.WriteLine($"      floor: [{string.Join(", ", floor.Select(Measure.Time))}]");
        double growMedian = Measure.Median(grow), shrinkMedian = Measure.Median(shrink), floorMedian = Measure.Median(floor);
        yield return new Row(
            $"SetThreadNum 1 -> 4 on a gated sync stage: from the call to 4 calls in progress at once (median of {cycles}); floor: 3 plain threads parked on a SemaphoreSlim, woken after the same 2 ms idle gap",
            Measure.Time(growMedian),
            $"floor {Measure.Time(floorMedian)}",
            $"{Measure.Ratio(growMedian / floorMedian)} of the floor",
            $"<= {Measure.Time(Target)}",
            Measure.Met(growMedian <= Target));
        var busyMedian = Measure.Median(busyGrow);
        Console.Error.WriteLine($"      grow, no idle gap: [{string.Join(", ", busyGrow.Select(Measure.Time))}]");
        yield return new Row(
            $"The same grow in back-to-back cycles, no idle gap between them (median of {cycles})",
            Measure.Time(busyMedian),
            "- (Dataflow blocks cannot be resized)",
            "-",
            $"<= {Measure.Time(Target)}",
            Measure.Met(busyMedian <= Target));
        yield return new Row(
            $"SetThreadNum 4 -> 1 with 4 calls held: from the call to Stat().Stages[0].WorkerCount == 1 (median of {cycles}); then at most 1 call runs once the held calls finish",
            Measure.Time(shrinkMedian),
            "- (Dataflow blocks cannot be resized)",
            "-",
            $"<= {Measure.Time(Target)}, at most 1 call after",
            breaches > 0 ? $"**no** (more than 1 call ran after the shrink in {breaches} of {cycles} cycles)" : Measure.Met(shrinkMedian <= Target));
    }

    private static void Discard(int x)
    {
    }

    /// <summary>Plain threads parked on semaphores: what waking parked threads costs on this machine, with no JobQ code.</summary>
    private sealed class ParkedThreads : IDisposable
    {
        private readonly SemaphoreSlim[] _parked;
        private volatile bool _stop;
        private int _woken;

        public ParkedThreads(int count)
        {
            _parked = [.. Enumerable.Range(0, count).Select(_ => new SemaphoreSlim(0))];
            foreach (var semaphore in _parked)
            {
                new Thread(() => Loop(semaphore)) { IsBackground = true, Name = "floor" }.Start();
            }
        }

        /// <summary>Wakes every thread and spins until all of them run; returns the seconds that took.</summary>
        public double Wake()
        {
            var start = Stopwatch.GetTimestamp();
            var target = Volatile.Read(ref _woken) + _parked.Length;
            foreach (var semaphore in _parked)
            {
                semaphore.Release();
            }

            return WaitUntil(() => Volatile.Read(ref _woken) >= target, start);
        }

        public void Dispose()
        {
            _stop = true;
            foreach (var semaphore in _parked)
            {
                semaphore.Release();
            }
        }

        private void Loop(SemaphoreSlim semaphore)
        {
            while (true)
            {
                semaphore.Wait();
                if (_stop)
                {
                    return;
                }

                Interlocked.Increment(ref _woken);
            }
        }
    }

    /// <summary>Spins (yielding the core to the workers) until <paramref name="condition"/> holds; returns the seconds since <paramref name="start"/>.</summary>
    private static double WaitUntil(Func<bool> condition, long start = 0)
    {
        var bound = Stopwatch.GetTimestamp();
        while (!condition())
        {
            if (Stopwatch.GetElapsedTime(bound) > Bound)
            {
                throw new TimeoutException("The resize never took effect.");
            }

            Thread.Yield();
        }

        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>A sync worker that holds every call on the gate current when the call starts, and counts calls.</summary>
    private sealed class GatedWorker
    {
        private Gate _current = new();
        private int _inProgress;
        private int _completed;

        /// <summary>Gets the number of calls in progress, on any gate.</summary>
        public int InProgress => Volatile.Read(ref _inProgress);

        /// <summary>Gets the number of calls that have returned.</summary>
        public int Completed => Volatile.Read(ref _completed);

        /// <summary>Gets the gate that calls starting now wait on.</summary>
        public Gate Current => Volatile.Read(ref _current);

        /// <summary>The worker: waits for its gate to open.</summary>
        /// <param name="x">The item.</param>
        /// <returns>The item.</returns>
        public int Hold(int x)
        {
            var gate = Current;
            Interlocked.Increment(ref _inProgress);
            gate.Enter();
            Interlocked.Decrement(ref _inProgress);
            Interlocked.Increment(ref _completed);
            return x;
        }

        /// <summary>Installs a new closed gate for calls that start from now on and returns the old one.</summary>
        /// <returns>The gate calls started before now wait on.</returns>
        public Gate SwapGate() => Interlocked.Exchange(ref _current, new Gate());
    }

    /// <summary>A closed gate that counts the calls waiting on it and the most at once.</summary>
    private sealed class Gate
    {
        private readonly ManualResetEventSlim _open = new(false);
        private int _inProgress;
        private int _maxInProgress;

        /// <summary>Gets the number of calls waiting on this gate.</summary>
        public int InProgress => Volatile.Read(ref _inProgress);

        /// <summary>Gets the most calls that waited on this gate at once.</summary>
        public int MaxInProgress => Volatile.Read(ref _maxInProgress);

        /// <summary>Waits until the gate opens.</summary>
        public void Enter()
        {
            var now = Interlocked.Increment(ref _inProgress);
            var max = Volatile.Read(ref _maxInProgress);
            while (now > max && Interlocked.CompareExchange(ref _maxInProgress, now, max) != max)
            {
                max = Volatile.Read(ref _maxInProgress);
            }

            _open.Wait();
            Interlocked.Decrement(ref _inProgress);
        }

        /// <summary>Opens the gate for good.</summary>
        public void Open() => _open.Set();
    }
}
