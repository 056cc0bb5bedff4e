using System.Buffers;
using JobQ.Dataflow.Internal;

namespace JobQ.Dataflow.Tests.Dispatch;

/// <summary>
/// <see cref="OrderedMerge{T}"/>: the route log says, in input order, which partition took each item; partitions send
/// their outputs in the order they took their items; every item's outputs come out together, in input order, as soon
/// as every item before it is out. Driven by hand, as the dispatcher's router and merge block drive it.
/// </summary>
[TestClass]
public sealed class OrderedMergeTests
{
    /// <summary>Logs a routed run: item i of the run went to partition <paramref name="partitions"/>[i].</summary>
    private static void Route<T>(OrderedMerge<T> merge, params int[] partitions)
    {
        var rented = ArrayPool<int>.Shared.Rent(Math.Max(1, partitions.Length));
        partitions.CopyTo(rented, 0);
        merge.Route(rented, partitions.Length);
    }

    /// <summary>A partition run's outputs: input item i gave the outputs <paramref name="outputsPerItem"/>[i].</summary>
    private static PartitionOutput<string> Outputs(int partition, params string[][] outputsPerItem)
    {
        var values = outputsPerItem.SelectMany(outputs => outputs).ToArray();
        var items = ItemRun<string>.Rent(Math.Max(1, values.Length));
        values.CopyTo(items, 0);
        var counts = ArrayPool<int>.Shared.Rent(outputsPerItem.Length);
        for (var i = 0; i < outputsPerItem.Length; i++)
        {
            counts[i] = outputsPerItem[i].Length;
        }

        return new PartitionOutput<string>(partition, new ItemRun<string>(items, values.Length), counts, outputsPerItem.Length);
    }

    /// <summary>One output per item, named after the item.</summary>
    private static PartitionOutput<string> OneEach(int partition, params string[] outputs)
        => Outputs(partition, [.. outputs.Select(output => new[] { output })]);

    [TestMethod]
    public void Add_PartitionsFinishOutOfOrder_OutputsInRouteOrder()
    {
        var merge = new OrderedMerge<string>(3);
        var output = new ListOutput<string>();
        Route(merge, 0, 1, 2, 1, 0, 2);

        merge.Add(OneEach(2, "i2", "i5"), output);
        merge.Add(OneEach(1, "i1", "i3"), output);
        var beforeFirst = output.Items.Count;
        merge.Add(OneEach(0, "i0", "i4"), output);

        Assert.AreEqual(0, beforeFirst, "nothing goes out before the first item's partition");
        CollectionAssert.AreEqual(new[] { "i0", "i1", "i2", "i3", "i4", "i5" }, output.Items);
    }

    [TestMethod]
    public void Add_FirstPartitionFinishesFirst_OutputsUpToTheFirstMissingItem()
    {
        var merge = new OrderedMerge<string>(2);
        var output = new ListOutput<string>();
        Route(merge, 0, 0, 1, 0);

        merge.Add(OneEach(0, "i0", "i1", "i3"), output);

        CollectionAssert.AreEqual(new[] { "i0", "i1" }, output.Items);
        Assert.AreEqual(1, merge.Waiting(0));
        Assert.AreEqual(0, merge.Waiting(1));

        merge.Add(OneEach(1, "i2"), output);

        CollectionAssert.AreEqual(new[] { "i0", "i1", "i2", "i3" }, output.Items);
        Assert.AreEqual(0, merge.Waiting(0));
    }

    [TestMethod]
    public void Add_ItemsWithSeveralOrNoOutputs_SeveralStayTogetherAndNoneIsSkipped()
    {
        var merge = new OrderedMerge<string>(2);
        var output = new ListOutput<string>();
        Route(merge, 0, 1, 0, 1, 0);

        merge.Add(Outputs(1, ["i1a", "i1b", "i1c"], []), output);
        merge.Add(Outputs(0, [], ["i2a", "i2b"], ["i4"]), output);

        CollectionAssert.AreEqual(new[] { "i1a", "i1b", "i1c", "i2a", "i2b", "i4" }, output.Items);
        Assert.AreEqual(0, merge.Waiting(0));
        Assert.AreEqual(0, merge.Waiting(1));
    }

    [TestMethod]
    public void Add_EveryItemGivesNothing_WritesNothingAndWaitsForNothing()
    {
        var merge = new OrderedMerge<string>(2);
        var output = new ListOutput<string>();
        Route(merge, 1, 0, 1);

        merge.Add(Outputs(1, [], []), output);
        merge.Add(Outputs(0, [[]]), output);

        Assert.IsEmpty(output.Items);
        Assert.AreEqual(0, merge.Waiting(0));
        Assert.AreEqual(0, merge.Waiting(1));
    }

    [TestMethod]
    public void Add_OutputsBeforeTheirRoute_WaitAndGoOutOnceRouted()
    {
        var merge = new OrderedMerge<string>(2);
        var output = new ListOutput<string>();

        merge.Add(OneEach(1, "i1"), output);
        merge.Add(OneEach(0, "i0"), output);

        Assert.IsEmpty(output.Items);
        Assert.AreEqual(1, merge.Waiting(0));
        Assert.AreEqual(1, merge.Waiting(1));

        Route(merge, 0, 1, 0);
        merge.Add(OneEach(0, "i2"), output);

        CollectionAssert.AreEqual(new[] { "i0", "i1", "i2" }, output.Items);
        Assert.AreEqual(0, merge.Waiting(0));
        Assert.AreEqual(0, merge.Waiting(1));
    }

    [TestMethod]
    public void Add_SeveralRoutedRuns_OutputsFollowTheRunsInOrder()
    {
        var merge = new OrderedMerge<string>(2);
        var output = new ListOutput<string>();
        Route(merge, 0, 1);
        Route(merge, 1, 0);
        Route(merge, 1);

        // Partition 1 took a1, then b0, then c0; partition 0 took a0, then b1.
        merge.Add(OneEach(1, "a1"), output);
        merge.Add(OneEach(1, "b0"), output);
        merge.Add(OneEach(1, "c0"), output);
        Assert.IsEmpty(output.Items);
        Assert.AreEqual(3, merge.Waiting(1));

        merge.Add(OneEach(0, "a0"), output);
        CollectionAssert.AreEqual(new[] { "a0", "a1", "b0" }, output.Items);
        Assert.AreEqual(1, merge.Waiting(1));

        merge.Add(OneEach(0, "b1"), output);
        CollectionAssert.AreEqual(new[] { "a0", "a1", "b0", "b1", "c0" }, output.Items);
        Assert.AreEqual(0, merge.Waiting(0));
        Assert.AreEqual(0, merge.Waiting(1));
    }

    [TestMethod]
    public void Add_RoutedRunWithNoItems_IsSkipped()
    {
        var merge = new OrderedMerge<string>(2);
        var output = new ListOutput<string>();
        Route(merge);
        Route(merge, 1);
        Route(merge);
        Route(merge, 0);

        merge.Add(OneEach(0, "b"), output);
        merge.Add(OneEach(1, "a"), output);

        CollectionAssert.AreEqual(new[] { "a", "b" }, output.Items);
    }

    [TestMethod]
    public void Waiting_ItemsFinishedBehindAnotherPartition_CountedPerPartitionInItems()
    {
        var merge = new OrderedMerge<string>(3);
        var output = new ListOutput<string>();
        Route(merge, 2, 0, 0, 1, 0, 1);

        // Items count, not outputs: item 1 gives three outputs, item 2 none.
        merge.Add(Outputs(0, ["i1a", "i1b", "i1c"], [], ["i4"]), output);
        merge.Add(OneEach(1, "i3", "i5"), output);

        Assert.IsEmpty(output.Items);
        Assert.AreEqual(3, merge.Waiting(0));
        Assert.AreEqual(2, merge.Waiting(1));
        Assert.AreEqual(0, merge.Waiting(2));

        merge.Add(OneEach(2, "i0"), output);

        CollectionAssert.AreEqual(new[] { "i0", "i1a", "i1b", "i1c", "i3", "i4", "i5" }, output.Items);
        Assert.AreEqual(0, merge.Waiting(0));
        Assert.AreEqual(0, merge.Waiting(1));
        Assert.AreEqual(0, merge.Waiting(2));
    }

    [TestMethod]
    public void Add_OnePartitionSeveralRuns_OutputsInTheOrderTheyWereTaken()
    {
        var merge = new OrderedMerge<int>(1);
        var output = new ListOutput<int>();
        var expected = new List<int>();
        for (var run = 0; run < 20; run++)
        {
            var length = 1 + (run % 7);
            Route(merge, new int[length]);
            var values = ItemRun<int>.Rent(length);
            var counts = ArrayPool<int>.Shared.Rent(length);
            for (var i = 0; i < length; i++)
            {
                values[i] = expected.Count;
                expected.Add(expected.Count);
                counts[i] = 1;
            }

            merge.Add(new PartitionOutput<int>(0, new ItemRun<int>(values, length), counts, length), output);
        }

        CollectionAssert.AreEqual(expected, output.Items);
        Assert.AreEqual(0, merge.Waiting(0));
    }

    [TestMethod]
    public void Add_ManyItemsRoutedAcrossPartitionsAndMergedInAnyPartitionOrder_OutputsInInputOrder()
    {
        const int Partitions = 4;
        const int Items = 500;
        var random = new Random(1234);
        var merge = new OrderedMerge<int>(Partitions);
        var output = new ListOutput<int>();
        var route = Enumerable.Range(0, Items).Select(_ => random.Next(Partitions)).ToArray();
        for (var start = 0; start < Items; start += 50)
        {
            Route(merge, route[start..(start + 50)]);
        }

        // Each partition sends its items in runs of up to 3, in order; partitions interleave at random.
        var perPartition = Enumerable.Range(0, Partitions)
            .Select(p => new Queue<int>(Enumerable.Range(0, Items).Where(i => route[i] == p)))
            .ToArray();
        while (perPartition.Any(queue => queue.Count > 0))
        {
            var p = random.Next(Partitions);
            var take = Math.Min(perPartition[p].Count, 1 + random.Next(3));
            if (take == 0)
            {
                continue;
            }

            var values = ItemRun<int>.Rent(take * 2);
            var counts = ArrayPool<int>.Shared.Rent(take);
            var written = 0;
            for (var i = 0; i < take; i++)
            {
                // Item k gives k % 3 outputs: none, one or two.
                var item = perPartition[p].Dequeue();
                counts[i] = item % 3;
                for (var o = 0; o < item % 3; o++)
                {
                    values[written++] = item;
                }
            }

            merge.Add(new PartitionOutput<int>(p, new ItemRun<int>(values, written), counts, take), output);
        }

        var expected = Enumerable.Range(0, Items).SelectMany(item => Enumerable.Repeat(item, item % 3)).ToList();
        CollectionAssert.AreEqual(expected, output.Items);
        for (var p = 0; p < Partitions; p++)
        {
            Assert.AreEqual(0, merge.Waiting(p));
        }
    }

    /// <summary>An output that keeps what it is given, in order.</summary>
    private sealed class ListOutput<T> : IOutput<T>
    {
        public List<T> Items { get; } = [];

        public void Add(T item) => Items.Add(item);

        public void Drop() => throw new InvalidOperationException("The merge never drops.");
    }
}
