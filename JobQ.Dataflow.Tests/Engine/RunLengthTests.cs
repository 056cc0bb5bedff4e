using System.Diagnostics;
using JobQ.Dataflow.Internal;

namespace JobQ.Dataflow.Tests.Engine;

/// <summary>
/// <see cref="RunLength"/>: one item per message until measured; grows at most twofold per run, towards a run of
/// <see cref="RunLength.TargetRunTicks"/> while calls are cheap and of <see cref="RunLength.SlowTargetRunTicks"/> while
/// they are not, up to <see cref="RunLength.Max"/>; halves on each run slower than that, down to one item. No timing: every measurement is given as chosen ticks, and every expected value is computed from
/// <see cref="Stopwatch.Frequency"/>.
/// </summary>
[TestClass]
public sealed class RunLengthTests
{
    /// <summary>The work one run should take: 50 µs.</summary>
    private static readonly long Target = Stopwatch.Frequency / 20_000;

    /// <summary>The average call under which a stage is cheap: 20 µs.</summary>
    private static readonly long Cheap = Stopwatch.Frequency / 50_000;

    /// <summary>The work one run of calls that are not cheap may take: 0.5 ms.</summary>
    private static readonly long SlowTarget = Stopwatch.Frequency / 2_000;

    /// <summary>A policy whose <see cref="RunLength.Max"/> is the hard limit, 1024.</summary>
    private static RunLength Unbounded() => new(queueSize: 1_000_000, threads: 1);

    /// <summary>Records runs as long as the preferred length, at <paramref name="ticksPerItem"/> each, <paramref name="runs"/> times; returns the lengths seen after each.</summary>
    private static List<int> Grow(RunLength length, long ticksPerItem, int runs)
    {
        var seen = new List<int>();
        for (var i = 0; i < runs; i++)
        {
            var items = length.Preferred;
            length.Record(items, items * ticksPerItem);
            seen.Add(length.Preferred);
        }

        return seen;
    }

    [TestMethod]
    public void Constants_FromStopwatchFrequency_FiftyAndTwentyMicrosecondsAndHalfAMillisecond()
    {
        Assert.AreEqual(Target, RunLength.TargetRunTicks);
        Assert.AreEqual(Cheap, RunLength.CheapCallTicks);
        Assert.AreEqual(SlowTarget, RunLength.SlowTargetRunTicks);
    }

    [TestMethod]
    public void New_NothingMeasured_PrefersOneItemAndIsNotCheap()
    {
        var length = new RunLength(100, 2);

        Assert.AreEqual(1, length.Preferred);
        Assert.IsFalse(length.IsCheap);
    }

    [TestMethod]
    [DataRow(100, 1, 100)]
    [DataRow(100, 2, 50)]
    [DataRow(100, 4, 25)]
    [DataRow(100, 0, 100)]
    [DataRow(100, -3, 100)]
    [DataRow(7, 2, 3)]
    [DataRow(3, 1, 3)]
    [DataRow(2, 1, 2)]
    [DataRow(1, 1, 1)]
    [DataRow(1, 8, 1)]
    [DataRow(0, 1, 1)]
    [DataRow(1024, 1, 1024)]
    [DataRow(1026, 4, 256)]
    [DataRow(4096, 4, 1024)]
    [DataRow(4096, 2, 1024)]
    [DataRow(1022, 2, 511)]
    [DataRow(int.MaxValue, 1, 1024)]
    public void MaxFor_QueueAndThreads_TheQueueSharedByTheThreadsClampedToOneAnd1024(int queueSize, int threads, int expected)
        => Assert.AreEqual(expected, RunLength.MaxFor(queueSize, threads));

    [TestMethod]
    [DataRow(100, 1)]
    [DataRow(100, 3)]
    [DataRow(5, 2)]
    [DataRow(100_000, 1)]
    public void New_QueueAndThreads_MaxIsMaxFor(int queueSize, int threads)
        => Assert.AreEqual(RunLength.MaxFor(queueSize, threads), new RunLength(queueSize, threads).Max);

    [TestMethod]
    public void Record_FreeCalls_DoublesEachRunUpToTheLimit()
    {
        var length = Unbounded();

        var seen = Grow(length, ticksPerItem: 0, runs: 12);

        CollectionAssert.AreEqual(new[] { 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1024, 1024 }, seen);
        Assert.IsFalse(length.IsCheap, "cheap only after enough cheap runs in a row");
    }

    [TestMethod]
    public void Record_FreeCallsWithSmallQueue_StopsAtMax()
    {
        var length = new RunLength(queueSize: 10, threads: 1);
        Assert.AreEqual(10, length.Max);

        var seen = Grow(length, ticksPerItem: 0, runs: 6);

        CollectionAssert.AreEqual(new[] { 2, 4, 8, 10, 10, 10 }, seen);
    }

    [TestMethod]
    public void Record_CallsOfATenthOfTheTarget_GrowsToTenItems()
    {
        var perItem = Target / 10;
        var ideal = (int)(Target / perItem);
        Assert.IsTrue(ideal is >= 10 and < 16, $"ideal {ideal}");
        var length = Unbounded();

        var seen = Grow(length, perItem, runs: 6);

        CollectionAssert.AreEqual(new[] { 2, 4, 8, ideal, ideal, ideal }, seen);
    }

    [TestMethod]
    public void Record_SlowCallAfterGrowth_HalvesEachSlowRunDownToTheIdeal()
    {
        var length = Unbounded();
        Grow(length, ticksPerItem: 0, runs: 6);
        Assert.AreEqual(64, length.Preferred);

        // A quarter of the target per call (still under the cheap bound): four items make a run. One slow run can be a
        // preempted thread, so each slow run halves the length rather than dropping it to the ideal at once.
        var seen = new List<int>();
        for (var i = 0; i < 6; i++)
        {
            length.Record(length.Preferred, length.Preferred * (Target / 4));
            seen.Add(length.Preferred);
        }

        CollectionAssert.AreEqual(new[] { 32, 16, 8, 4, 4, 4 }, seen);
    }

    [TestMethod]
    public void Record_CallsLongerThanTheSlowTarget_HalveEachRunDownToOne()
    {
        var length = Unbounded();
        Grow(length, ticksPerItem: 0, runs: 10);
        Assert.AreEqual(1024, length.Preferred);

        var runs = 0;
        while (length.Preferred > 1 && runs < 20)
        {
            length.Record(length.Preferred, length.Preferred * (SlowTarget * 3));
            runs++;
        }

        Assert.AreEqual(10, runs, "1024 halves to 1 in ten slow runs");
        Assert.AreEqual(1, length.Preferred);
        Assert.IsFalse(length.IsCheap);
    }

    [TestMethod]
    public void Record_SlowFirstCall_StaysAtOne()
    {
        var length = Unbounded();

        length.Record(1, SlowTarget * 2);

        Assert.AreEqual(1, length.Preferred);
        Assert.IsFalse(length.IsCheap);
    }

    [TestMethod]
    public void Record_CallsBetweenCheapAndTheSlowTarget_GrowTowardsHalfAMillisecondOfWorkAndAreNotCheap()
    {
        // 50 µs a call: too slow for the cheap target (runs of one), while a hand-off between threads would cost as much
        // as a call; runs of such calls take up to 0.5 ms.
        var length = Unbounded();

        var seen = Grow(length, ticksPerItem: Target, runs: 6);

        CollectionAssert.AreEqual(new[] { 2, 4, 8, 10, 10, 10 }, seen);
        Assert.IsFalse(length.IsCheap);
    }

    [TestMethod]
    public void Record_AverageJustUnderCheap_IsCheap()
    {
        var length = Unbounded();

        // 10 calls in 10 * Cheap - 1 ticks: Cheap - 1 each (integer average), in enough runs in a row.
        for (var i = 0; i < RunLength.CheapRunsInARow; i++)
        {
            length.Record(10, (10 * Cheap) - 1);
        }

        Assert.IsTrue(length.IsCheap);
    }

    [TestMethod]
    public void Record_AverageExactlyCheap_IsNotCheap()
    {
        var length = Unbounded();

        for (var i = 0; i < RunLength.CheapRunsInARow; i++)
        {
            length.Record(10, 10 * Cheap);
        }

        Assert.IsFalse(length.IsCheap);
    }

    [TestMethod]
    public void Record_SlowAfterCheap_IsNoLongerCheap()
    {
        var length = Unbounded();
        for (var i = 0; i < RunLength.CheapRunsInARow; i++)
        {
            length.Record(1, 0);
        }

        Assert.IsTrue(length.IsCheap);

        length.Record(1, Cheap);

        Assert.IsFalse(length.IsCheap, "one slow run is enough to stop counting as cheap");
    }

    [TestMethod]
    public void Record_CheapRuns_CheapOnlyAfterEnoughInARow()
    {
        var length = Unbounded();
        var cheapAfter = new List<bool>();
        for (var i = 0; i < RunLength.CheapRunsInARow; i++)
        {
            length.Record(1, 0);
            cheapAfter.Add(length.IsCheap);
        }

        CollectionAssert.AreEqual(Enumerable.Range(1, RunLength.CheapRunsInARow).Select(n => n == RunLength.CheapRunsInARow).ToArray(), cheapAfter);
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(-1)]
    public void Record_NoItems_ChangesNothing(int items)
    {
        var length = Unbounded();
        Grow(length, ticksPerItem: 0, runs: RunLength.CheapRunsInARow);
        var cheap = new RunLength(100, 1);

        length.Record(items, Target * 100);
        cheap.Record(items, 0);

        Assert.AreEqual(1024, length.Preferred);
        Assert.IsTrue(length.IsCheap);
        Assert.AreEqual(1, cheap.Preferred);
        Assert.IsFalse(cheap.IsCheap);
    }

    [TestMethod]
    public void Record_CheapButNotFreeCalls_GrowsNoFurtherThanTheTargetAllows()
    {
        // Calls just under the cheap bound: the target holds Target / (Cheap - 1) of them.
        var perItem = Cheap - 1;
        var ideal = (int)(Target / perItem);
        var length = Unbounded();

        var seen = Grow(length, perItem, runs: RunLength.CheapRunsInARow);

        Assert.IsTrue(length.IsCheap);
        CollectionAssert.AreEqual(new[] { Math.Min(2, ideal), ideal, ideal, ideal }, seen.Take(4).ToArray());
    }

    [TestMethod]
    public void Record_IdealBetweenCurrentAndDouble_GrowsToTheIdealNotBeyond()
    {
        // Calls of Target / 3: the ideal run is 3 items; from 2 it grows to 3, not 4.
        var perItem = Target / 3;
        var ideal = (int)(Target / perItem);
        var length = Unbounded();
        length.Record(1, 0);
        Assert.AreEqual(2, length.Preferred);

        length.Record(2, 2 * perItem);

        Assert.AreEqual(ideal, length.Preferred);
        Assert.AreEqual(3, ideal);
    }

    [TestMethod]
    public void Record_ShrinkThenCheapAgain_GrowsAgainByDoubling()
    {
        var length = Unbounded();
        Grow(length, ticksPerItem: 0, runs: 5);
        for (var i = 0; i < 20 && length.Preferred > 1; i++)
        {
            length.Record(length.Preferred, length.Preferred * SlowTarget);
        }

        Assert.AreEqual(1, length.Preferred);

        var seen = Grow(length, ticksPerItem: 0, runs: 3);

        CollectionAssert.AreEqual(new[] { 2, 4, 8 }, seen);
    }
}
