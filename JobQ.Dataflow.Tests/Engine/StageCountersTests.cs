using JobQ.Dataflow.Internal;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Engine;

/// <summary>
/// <see cref="StageCounters"/> and <see cref="RunProgress"/>: each run in progress counts its own calls, folded into
/// the totals when it ends; a read sees the totals plus every run in progress, never a run twice, never a call finished
/// before it started.
/// </summary>
[TestClass]
public sealed class StageCountersTests
{
    [TestMethod]
    public void Read_NothingCounted_AllZero()
    {
        var counters = new StageCounters();

        Assert.AreEqual((0L, 0L, 0L, 0L, 0L), counters.Read());
    }

    [TestMethod]
    public void Read_RunsInProgress_CountTheirItemsNotStartedYetUntilTheyEnd()
    {
        var counters = new StageCounters();
        var first = counters.Begin(items: 3);
        var second = counters.Begin(items: 2);
        first.Start();
        first.Finish();
        first.Start();

        Assert.AreEqual(1L + 2L, counters.Read().Unstarted, "the first run's third item and both of the second's");

        counters.End(second);
        Assert.AreEqual(1L, counters.Read().Unstarted, "an ended run counts nothing");
        first.Finish();
        first.Start();
        Assert.AreEqual(0L, counters.Read().Unstarted);
    }

    [TestMethod]
    public void Read_RunInProgress_CountsItsCalls()
    {
        var counters = new StageCounters();
        var run = counters.Begin();

        run.Start();
        var started = counters.Read();
        run.Finish();
        run.Start();
        run.Fail();
        run.Start();
        run.Finish();
        run.Drop();

        Assert.AreEqual((1L, 0L, 0L, 0L, 0L), started);
        Assert.AreEqual((3L, 3L, 1L, 1L, 0L), counters.Read());
    }

    [TestMethod]
    public void Drop_DuringTheCall_CountedOnlyOnceTheCallFinishes()
    {
        // A worker drops its item before its call is counted finished: a reader in between must not see more calls
        // dropped than finished (Out would read one short).
        var counters = new StageCounters();
        var run = counters.Begin();
        run.Start();

        run.Drop();
        var during = counters.Read();
        run.Finish();

        Assert.AreEqual((1L, 0L, 0L, 0L, 0L), during);
        Assert.AreEqual((1L, 1L, 0L, 1L, 0L), counters.Read());
    }

    [TestMethod]
    public void Drop_ThenTheCallFails_CountedFailedOnly()
    {
        var counters = new StageCounters();
        var run = counters.Begin();
        run.Start();

        run.Drop();
        run.Fail();
        run.Start();
        run.Finish();

        Assert.AreEqual((2L, 2L, 1L, 0L, 0L), counters.Read());
    }

    [TestMethod]
    public void End_Run_FoldsItsCallsIntoTheTotals()
    {
        var counters = new StageCounters();
        var run = counters.Begin();
        run.Start();
        run.Finish();
        run.Start();
        run.Fail();
        run.Drop();
        var before = counters.Read();

        counters.End(run);

        Assert.AreEqual(before, counters.Read());
        Assert.AreEqual((2L, 2L, 1L, 1L, 0L), counters.Read());
    }

    [TestMethod]
    public void End_ThenBegin_ReusesTheProgressCleared()
    {
        var counters = new StageCounters();
        var run = counters.Begin();
        run.Start();
        run.Fail();
        run.Drop();
        counters.End(run);

        var next = counters.Begin();

        Assert.AreSame(run, next);
        Assert.AreEqual(0, next.Started);
        Assert.AreEqual(0, next.Finished);
        Assert.AreEqual(0, next.Failed);
        Assert.AreEqual(0, next.Dropped);
        Assert.AreEqual((1L, 1L, 1L, 1L, 0L), counters.Read());
    }

    [TestMethod]
    public void End_SeveralRunsInAnyOrder_EachCountedOnce()
    {
        var counters = new StageCounters();
        var runs = Enumerable.Range(0, 5).Select(_ => counters.Begin()).ToArray();
        for (var i = 0; i < runs.Length; i++)
        {
            for (var call = 0; call <= i; call++)
            {
                runs[i].Start();
                runs[i].Finish();
            }
        }

        // 1 + 2 + 3 + 4 + 5 calls.
        var read = new List<(long In, long Out, long Failed, long Dropped, long Unstarted)>();
        foreach (var i in new[] { 1, 4, 0, 3, 2 })
        {
            counters.End(runs[i]);
            read.Add(counters.Read());
        }

        Assert.IsTrue(read.All(counts => counts == (15L, 15L, 0L, 0L, 0L)), string.Join(", ", read));
    }

    [TestMethod]
    public void End_MiddleRunThenTheOthers_RunsStillInProgressKeepCounting()
    {
        var counters = new StageCounters();
        var a = counters.Begin();
        var b = counters.Begin();
        var c = counters.Begin();
        a.Start();
        b.Start();
        b.Finish();
        c.Start();

        counters.End(b);
        a.Finish();
        c.Fail();
        var afterMiddle = counters.Read();
        counters.End(c);
        counters.End(a);

        Assert.AreEqual((3L, 3L, 1L, 0L, 0L), afterMiddle);
        Assert.AreEqual((3L, 3L, 1L, 0L, 0L), counters.Read());
    }

    [TestMethod]
    public void CountFailedCall_NoRun_CountsAStartedFinishedFailedCall()
    {
        var counters = new StageCounters();

        counters.CountFailedCall();
        counters.CountFailedCall();

        Assert.AreEqual((2L, 2L, 2L, 0L, 0L), counters.Read());
    }

    [TestMethod]
    public void OnlyInUserCode_NoRunInProgress_IsTrue()
    {
        var counters = new StageCounters();
        counters.End(counters.Begin());

        Assert.IsTrue(counters.OnlyInUserCode());
    }

    [TestMethod]
    public void OnlyInUserCode_EveryRunInsideACall_IsTrue()
    {
        var counters = new StageCounters();
        var a = counters.Begin();
        var b = counters.Begin();
        a.Start();
        b.Start();
        b.Finish();
        b.Start();

        Assert.IsTrue(a.InCall);
        Assert.IsTrue(b.InCall);
        Assert.IsTrue(counters.OnlyInUserCode());
    }

    [TestMethod]
    public void OnlyInUserCode_ARunBetweenCalls_IsFalse()
    {
        var counters = new StageCounters();
        var a = counters.Begin();
        var b = counters.Begin();
        a.Start();
        b.Start();
        b.Finish();

        Assert.IsFalse(b.InCall);
        Assert.IsFalse(counters.OnlyInUserCode());
    }

    [TestMethod]
    public void OnlyInUserCode_RunJustBegun_IsFalse()
    {
        var counters = new StageCounters();
        counters.Begin();

        Assert.IsFalse(counters.OnlyInUserCode());
    }

    [TestMethod]
    public async Task Read_WhileRunsCountAndEnd_NeverDecreasesNorSeesMoreFinishedThanStarted()
    {
        const int Runs = 2000;
        const int CallsPerRun = 10;
        var counters = new StageCounters();
        var done = 0;

        var processor = Task.Run(() =>
        {
            for (var r = 0; r < Runs; r++)
            {
                var run = counters.Begin();
                for (var call = 0; call < CallsPerRun; call++)
                {
                    run.Start();
                    if (call % 3 == 0)
                    {
                        run.Fail();
                    }
                    else
                    {
                        run.Finish();
                    }
                }

                counters.End(run);
            }

            Volatile.Write(ref done, 1);
        });

        var violations = new List<string>();
        (long In, long Out, long Failed, long Dropped, long Unstarted) last = default;
        while (Volatile.Read(ref done) == 0 && !processor.IsCompleted)
        {
            var now = counters.Read();
            if (now.Out > now.In || now.In < last.In || now.Out < last.Out || now.Failed < last.Failed)
            {
                violations.Add($"{last} then {now}");
            }

            last = now;
        }

        await processor.Within();
        Assert.IsEmpty(violations, string.Join("; ", violations.Take(5)));
        Assert.AreEqual(((long)Runs * CallsPerRun, (long)Runs * CallsPerRun, (long)Runs * 4, 0L, 0L), counters.Read());
    }

    [TestMethod]
    public async Task Read_WhileEveryCallFails_NeverMoreFailedThanFinished()
    {
        // A failed call is a finished call: a snapshot with more failed than finished calls is not exact.
        var counters = new StageCounters();
        var run = counters.Begin();
        var stop = 0;
        var processor = Task.Run(() =>
        {
            while (Volatile.Read(ref stop) == 0)
            {
                run.Start();
                run.Fail();
            }
        });

        (long In, long Out, long Failed, long Dropped, long Unstarted) seen = default;
        var inconsistent = Bounded.TryUntil(
            () =>
            {
                seen = counters.Read();
                return seen.Failed > seen.Out;
            },
            Bounded.Watch);
        Volatile.Write(ref stop, 1);
        await processor.Within();

        Assert.IsFalse(inconsistent, $"a snapshot read {seen}");
    }

    [TestMethod]
    public async Task Read_WhileRunsCallOnAndOn_NeverMoreCallsInProgressThanRuns()
    {
        // A run makes one call at a time: a snapshot that sees two of its calls in progress counts a stage as doing more
        // calls than it has workers. More busy threads than cores, so that the reader is often preempted mid-read.
        const int Runs = 3;
        var counters = new StageCounters();
        var stop = 0;
        var processors = Enumerable.Range(0, Runs).Select(_ => Task.Factory.StartNew(
            () =>
            {
                var run = counters.Begin();
                while (Volatile.Read(ref stop) == 0)
                {
                    run.Start();
                    run.Finish();
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default)).ToArray();

        (long In, long Out, long Failed, long Dropped, long Unstarted) seen = default;
        var inconsistent = Bounded.TryUntil(
            () =>
            {
                seen = counters.Read();
                return seen.In - seen.Out is < 0 or > Runs;
            },
            TimeSpan.FromSeconds(1));
        Volatile.Write(ref stop, 1);
        await Task.WhenAll(processors).Within();

        Assert.IsFalse(inconsistent, $"a snapshot read {seen}");
    }
}
