using JobQ.Dataflow.Internal;

namespace JobQ.Dataflow.Tests.Engine;

/// <summary>
/// <see cref="RunWriter{T}"/>: cuts a run's outputs into runs of the next stage's <see cref="RunLength.Preferred"/>,
/// read when each output run starts; hands over full runs early (<see cref="RunWriter{T}.TakeSealed"/>) and the
/// partial last one at the end; keeps nothing without a next stage.
/// </summary>
[TestClass]
public sealed class RunWriterTests
{
    /// <summary>A next stage's run length grown by free calls to <paramref name="preferred"/> (a power of two).</summary>
    private static RunLength Preferring(int preferred)
    {
        var length = new RunLength(1_000_000, 1);
        while (length.Preferred < preferred)
        {
            length.Record(length.Preferred, 0);
        }

        Assert.AreEqual(preferred, length.Preferred);
        return length;
    }

    private static int[][] Contents(ItemRun<int>[] runs) => [.. runs.Select(run => run.Span.ToArray())];

    private static void AssertRuns(int[][] expected, ItemRun<int>[] actual)
    {
        var contents = Contents(actual);
        Assert.HasCount(expected.Length, contents);
        for (var i = 0; i < expected.Length; i++)
        {
            CollectionAssert.AreEqual(expected[i], contents[i], $"run {i}");
        }
    }

    [TestMethod]
    public void Add_NoNextStage_KeepsNothing()
    {
        var writer = new RunWriter<int>(null, new RunProgress());

        writer.Add(1);
        writer.Add(2);

        Assert.AreEqual(0, writer.Written);
        Assert.IsFalse(writer.HasSealed);
        Assert.IsEmpty(writer.TakeAll());
    }

    [TestMethod]
    public void Add_NextPrefersOne_EveryOutputIsARun()
    {
        var writer = new RunWriter<int>(new RunLength(100, 1), new RunProgress());

        writer.Add(10);
        writer.Add(11);
        writer.Add(12);

        Assert.IsTrue(writer.HasSealed);
        Assert.AreEqual(3, writer.Written);
        AssertRuns([[10], [11], [12]], writer.TakeSealed());
        Assert.IsFalse(writer.HasSealed);
    }

    [TestMethod]
    public void Add_NextPrefersFour_SealsEveryFourAndKeepsThePartialRun()
    {
        var writer = new RunWriter<int>(Preferring(4), new RunProgress());

        for (var i = 0; i < 10; i++)
        {
            writer.Add(i);
        }

        Assert.AreEqual(10, writer.Written);
        AssertRuns([[0, 1, 2, 3], [4, 5, 6, 7]], writer.TakeSealed());
        Assert.IsFalse(writer.HasSealed);
        AssertRuns([[8, 9]], writer.TakeAll());
        Assert.IsEmpty(writer.TakeAll());
    }

    [TestMethod]
    public void TakeSealed_OnlyAPartialRun_ReturnsNothingAndKeepsIt()
    {
        var writer = new RunWriter<int>(Preferring(4), new RunProgress());
        writer.Add(1);
        writer.Add(2);

        var sealedRuns = writer.TakeSealed();

        Assert.IsEmpty(sealedRuns);
        Assert.IsFalse(writer.HasSealed);
        writer.Add(3);
        AssertRuns([[1, 2, 3]], writer.TakeAll());
    }

    [TestMethod]
    public void TakeSealed_CalledBetweenRuns_EachCallGetsTheRunsSealedSince()
    {
        var writer = new RunWriter<int>(Preferring(2), new RunProgress());

        for (var i = 0; i < 6; i++)
        {
            writer.Add(i);
        }

        var first = writer.TakeSealed();
        writer.Add(6);
        writer.Add(7);
        var second = writer.TakeSealed();
        var last = writer.TakeAll();

        AssertRuns([[0, 1], [2, 3], [4, 5]], first);
        AssertRuns([[6, 7]], second);
        Assert.IsEmpty(last);
    }

    [TestMethod]
    public void Add_PreferredShrinksDuringARun_CurrentRunKeepsItsLengthAndTheNextUsesTheNewOne()
    {
        var next = Preferring(4);
        var writer = new RunWriter<int>(next, new RunProgress());
        writer.Add(0);

        // The next stage turns slow: it now wants one item per message (each slow run halves its length).
        next.Record(4, 4 * RunLength.SlowTargetRunTicks * 2);
        next.Record(2, 2 * RunLength.SlowTargetRunTicks * 2);
        Assert.AreEqual(1, next.Preferred);
        for (var i = 1; i < 6; i++)
        {
            writer.Add(i);
        }

        AssertRuns([[0, 1, 2, 3], [4], [5]], writer.TakeAll());
    }

    [TestMethod]
    public void Add_PreferredGrowsDuringARun_TheNextRunUsesTheNewLength()
    {
        var next = new RunLength(1_000_000, 1);
        var writer = new RunWriter<int>(next, new RunProgress());
        writer.Add(0);

        next.Record(1, 0);
        next.Record(2, 0);
        Assert.AreEqual(4, next.Preferred);
        for (var i = 1; i < 7; i++)
        {
            writer.Add(i);
        }

        AssertRuns([[0], [1, 2, 3, 4], [5, 6]], writer.TakeAll());
    }

    [TestMethod]
    public void TakeAll_Runs_CarryNoSequence()
    {
        var writer = new RunWriter<int>(Preferring(2), new RunProgress());
        writer.Add(1);
        writer.Add(2);
        writer.Add(3);

        var runs = writer.TakeAll();

        Assert.HasCount(2, runs);
        Assert.IsTrue(runs.All(run => run.Sequence == 0));
        Assert.AreEqual(2, runs[0].Count);
        Assert.AreEqual(1, runs[1].Count);
    }

    [TestMethod]
    public void TakeAll_SameThreadSingleRun_ReusesTheThreadsArray()
    {
        var writer = new RunWriter<int>(Preferring(4), new RunProgress());
        writer.Add(1);
        var first = writer.TakeAll(sameThread: true);
        AssertRuns([[1]], first);
        writer.Add(2);
        writer.Add(3);

        var second = writer.TakeAll(sameThread: true);

        Assert.AreSame(first, second);
        AssertRuns([[2, 3]], second);
    }

    [TestMethod]
    public void TakeAll_NotSameThreadOrSeveralRuns_NewArrayEachTime()
    {
        var writer = new RunWriter<int>(Preferring(2), new RunProgress());
        writer.Add(1);
        var single = writer.TakeAll();
        writer.Add(2);
        var again = writer.TakeAll();
        writer.Add(3);
        var reused = writer.TakeAll(sameThread: true);
        for (var i = 4; i < 7; i++)
        {
            writer.Add(i);
        }

        var several = writer.TakeAll(sameThread: true);

        Assert.AreNotSame(single, again);
        Assert.AreNotSame(reused, several);
        AssertRuns([[4, 5], [6]], several);
    }

    [TestMethod]
    public void Drop_Call_CountsADroppedCallOnTheRun()
    {
        var progress = new RunProgress();
        var writer = new RunWriter<int>(new RunLength(100, 1), progress);

        writer.Drop();
        writer.Drop();

        Assert.AreEqual(2, progress.Dropped);
        Assert.AreEqual(0, writer.Written);
    }

    [TestMethod]
    public void Discard_SealedAndPartialRuns_LeavesNothingToTake()
    {
        var writer = new RunWriter<int>(Preferring(2), new RunProgress());
        for (var i = 0; i < 5; i++)
        {
            writer.Add(i);
        }

        writer.Discard();

        Assert.IsFalse(writer.HasSealed);
        Assert.IsEmpty(writer.TakeAll());
        Assert.AreEqual(5, writer.Written);
    }

    [TestMethod]
    public void Add_AfterTakeAll_StartsANewRun()
    {
        var writer = new RunWriter<int>(Preferring(4), new RunProgress());
        writer.Add(1);
        var first = writer.TakeAll();

        writer.Add(2);
        writer.Add(3);

        AssertRuns([[1]], first);
        AssertRuns([[2, 3]], writer.TakeAll());
        Assert.AreEqual(3, writer.Written);
    }
}
