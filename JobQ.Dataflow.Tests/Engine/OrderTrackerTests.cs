using JobQ.Dataflow.Internal;
using JobQ.Dataflow.Tests.Support;

namespace JobQ.Dataflow.Tests.Engine;

/// <summary>
/// <see cref="OrderTracker"/>: counts the outputs of runs that ended before an earlier-admitted run did (they wait in
/// Dataflow's reordering buffer), releases them when the runs before them end, and calls
/// <see cref="OrderTracker.Released"/> when some went on.
/// </summary>
[TestClass]
public sealed class OrderTrackerTests
{
    [TestMethod]
    public void New_NothingEnded_NothingParkedAndRunZeroIsNext()
    {
        var tracker = new OrderTracker();

        Assert.AreEqual(0, tracker.Parked);
        Assert.IsTrue(tracker.IsNext(0));
        Assert.IsFalse(tracker.IsNext(1));
    }

    [TestMethod]
    public void Ended_RunsInOrder_NothingParkedAndReleasedNotCalled()
    {
        var tracker = new OrderTracker();
        var released = 0;
        tracker.Released = () => released++;

        for (var sequence = 0; sequence < 5; sequence++)
        {
            Assert.IsTrue(tracker.IsNext(sequence));
            tracker.Ended(sequence, 3);
            Assert.AreEqual(0, tracker.Parked);
        }

        Assert.IsTrue(tracker.IsNext(5));
        Assert.AreEqual(0, released, "nothing was held back, so nothing was released");
    }

    [TestMethod]
    public void Ended_LaterRunsFirst_ParkedUntilTheEarliestEnds()
    {
        var tracker = new OrderTracker();
        var released = 0;
        tracker.Released = () => released++;

        tracker.Ended(1, 3);
        tracker.Ended(2, 4);

        Assert.AreEqual(7, tracker.Parked);
        Assert.IsTrue(tracker.IsNext(0));
        Assert.IsFalse(tracker.IsNext(1));
        Assert.AreEqual(0, released);

        tracker.Ended(0, 5);

        Assert.AreEqual(0, tracker.Parked);
        Assert.IsTrue(tracker.IsNext(3));
        Assert.AreEqual(1, released);
    }

    [TestMethod]
    public void Ended_AfterFreeze_KeepsWhatIsParkedParksLaterOutputsAndReleasesNothing()
    {
        // A run that read no stop before the freeze passes its outputs on: out of order, Dataflow holds them, so they
        // count as parked; the run everything waits for releases nothing once frozen.
        var tracker = new OrderTracker();
        var released = 0;
        tracker.Released = () => released++;
        tracker.Ended(1, 3);

        tracker.Freeze();
        tracker.Ended(2, 4);
        tracker.Ended(0, 0);

        Assert.AreEqual(7, tracker.Parked);
        Assert.IsTrue(tracker.IsNext(0));
        Assert.AreEqual(0, released);
    }

    [TestMethod]
    public void Ended_GapInTheEndedRuns_ReleasesOnlyUpToTheGap()
    {
        var tracker = new OrderTracker();
        var released = 0;
        tracker.Released = () => released++;
        tracker.Ended(1, 2);
        tracker.Ended(3, 4);

        tracker.Ended(0, 1);

        Assert.AreEqual(4, tracker.Parked, "run 3 still waits for run 2");
        Assert.IsTrue(tracker.IsNext(2));
        Assert.AreEqual(1, released);

        tracker.Ended(2, 6);

        Assert.AreEqual(0, tracker.Parked);
        Assert.IsTrue(tracker.IsNext(4));
        Assert.AreEqual(2, released);
    }

    [TestMethod]
    public void Ended_NextRunWhileALaterOneWaitsBehindAGap_ReleasesNothing()
    {
        var tracker = new OrderTracker();
        var released = 0;
        tracker.Released = () => released++;
        tracker.Ended(2, 4);

        tracker.Ended(0, 1);

        Assert.AreEqual(4, tracker.Parked);
        Assert.IsTrue(tracker.IsNext(1));
        Assert.AreEqual(0, released);
    }

    [TestMethod]
    public void Ended_ReleasedCallback_SeesTheParkedCountAlreadyLowered()
    {
        var tracker = new OrderTracker();
        var parkedSeen = -1;
        var nextSeen = false;
        tracker.Released = () =>
        {
            parkedSeen = tracker.Parked;
            nextSeen = tracker.IsNext(2);
        };
        tracker.Ended(1, 10);

        tracker.Ended(0, 0);

        Assert.AreEqual(0, parkedSeen);
        Assert.IsTrue(nextSeen);
    }

    [TestMethod]
    public void Ended_NoReleasedCallback_StillReleases()
    {
        var tracker = new OrderTracker();
        tracker.Ended(1, 2);

        tracker.Ended(0, 2);

        Assert.AreEqual(0, tracker.Parked);
        Assert.IsTrue(tracker.IsNext(2));
    }

    [TestMethod]
    public async Task Ended_RunsEndingOnSeveralThreads_AllReleasedAndNothingParked()
    {
        const int Runs = 4000;
        var tracker = new OrderTracker();
        var next = -1;

        var enders = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            int sequence;
            while ((sequence = Interlocked.Increment(ref next)) < Runs)
            {
                tracker.Ended(sequence, 1);
            }
        })).ToArray();
        await Task.WhenAll(enders).Within();

        Assert.AreEqual(0, tracker.Parked);
        Assert.IsTrue(tracker.IsNext(Runs));
    }
}
