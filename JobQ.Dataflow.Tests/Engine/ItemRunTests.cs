using JobQ.Dataflow.Internal;

namespace JobQ.Dataflow.Tests.Engine;

/// <summary><see cref="ItemRun{T}"/>: a run of items in a rented array, its sequence stamp, and the array's return to the pool.</summary>
[TestClass]
public sealed class ItemRunTests
{
    [TestMethod]
    public void Span_RentedArrayLargerThanTheRun_HoldsOnlyTheRunsItems()
    {
        var array = ItemRun<int>.Rent(3);
        array[0] = 7;
        array[1] = 8;
        array[2] = 9;

        var run = new ItemRun<int>(array, 2);

        Assert.IsGreaterThanOrEqualTo(3, array.Length);
        Assert.AreEqual(2, run.Count);
        CollectionAssert.AreEqual(new[] { 7, 8 }, run.Span.ToArray());
        Assert.AreEqual(0L, run.Sequence);
    }

    [TestMethod]
    public void WithSequence_Run_SameItemsNewStamp()
    {
        var run = new ItemRun<int>(ItemRun<int>.Rent(2), 2, 5);

        var stamped = run.WithSequence(11);

        Assert.AreSame(run.Items, stamped.Items);
        Assert.AreEqual(2, stamped.Count);
        Assert.AreEqual(11L, stamped.Sequence);
        Assert.AreEqual(5L, run.Sequence);
    }

    [TestMethod]
    public void Return_ReferenceItems_ClearsTheSlotsTheRunHeld()
    {
        var array = ItemRun<Marker>.Rent(4);
        var beyond = new Marker();
        array[0] = new Marker();
        array[1] = new Marker();
        array[2] = beyond;

        new ItemRun<Marker>(array, 2).Return();

        Assert.IsNull(array[0]);
        Assert.IsNull(array[1]);
        Assert.AreSame(beyond, array[2], "only the run's slots are cleared");
    }

    /// <summary>A reference type of this test only, so that no other code rents from its pool meanwhile.</summary>
    private sealed class Marker;
}
