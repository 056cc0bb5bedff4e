using System.Globalization;
using System.Threading.Tasks.Dataflow;
using Spectre.Console;

namespace JobQ.Dataflow.Samples;

/// <summary>
/// The pipeline as a Dataflow block inside an existing graph: a <see cref="BufferBlock{T}"/> of orders is linked to
/// <see cref="JobQueue.CreateBlock{TIn, TOut}(Workers{TIn, TOut}, JobOptions?, CancellationToken)"/>, which is linked to an
/// <see cref="ActionBlock{T}"/>, with completion propagated over both links. Then the same workers as an async
/// stream with <see cref="JobQueue.StreamAsync{TIn, TOut}(IEnumerable{TIn}, Workers{TIn, TOut}, JobOptions?, CancellationToken)"/>.
/// </summary>
public sealed class DataflowBlockSample : ISample
{
    /// <summary>The number of orders sent into the graph.</summary>
    public const int Orders = 50;

    /// <summary>The number of invoices the stream part reads before it stops.</summary>
    public const int StreamTake = 3;

    /// <inheritdoc/>
    public string Name => "dataflow-block";

    /// <inheritdoc/>
    public string Description => "The pipeline as one block of a Dataflow graph: BufferBlock -> CreateBlock -> ActionBlock; then the same as StreamAsync.";

    /// <inheritdoc/>
    public bool IsSynopsis => false;

    /// <inheritdoc/>
    public async Task RunAsync(TextWriter output, CancellationToken cancellationToken = default)
    {
        var console = SampleConsole.For(output);
        var probe = new Probe();
        var invoices = new List<string>();

        var workers = Workers.Of<int>()
            .Then(ParseOrder, name: "parse")
            .Then(PriceAsync, threads: 4, name: "price")
            .Then(FormatInvoice, name: "format");

        var orders = new BufferBlock<int>(new DataflowBlockOptions { BoundedCapacity = 16 });
        var pipeline = JobQueue.CreateBlock(workers, new JobOptions { KeepOrder = true, QueueSize = 16, Probe = probe });
        var printer = new ActionBlock<string>(invoice => invoices.Add(invoice));

        var link = new DataflowLinkOptions { PropagateCompletion = true };
        orders.LinkTo(pipeline, link);
        pipeline.LinkTo(printer, link);

        for (var id = 1; id <= Orders; id++)
        {
            await orders.SendAsync(id, cancellationToken);
        }

        // Completing the head drains the whole graph: the pipeline block completes after its last output.
        orders.Complete();
        await printer.Completion.WaitAsync(cancellationToken);

        var stats = JobQueue.Stat(probe);
        var inOrder = invoices.Select(InvoiceNumber).SequenceEqual(Enumerable.Range(1, Orders));
        var table = new Table().Border(TableBorder.Rounded).Title("BufferBlock -> pipeline block -> ActionBlock");
        table.AddColumn("Block");
        table.AddColumn(new TableColumn("Threads").RightAligned());
        table.AddColumn(new TableColumn("In").RightAligned());
        table.AddColumn(new TableColumn("Out").RightAligned());
        table.AddRow("orders (BufferBlock)", "", "", $"{Orders}");
        foreach (var stage in stats.Stages)
        {
            table.AddRow(Markup.Escape(stage.Name), $"{stage.WorkerCount}", $"{stage.In}", $"{stage.Out}");
        }

        table.AddRow("printer (ActionBlock)", "1", $"{invoices.Count}", "");
        console.Write(table);
        console.WriteLine($"sent {Orders} orders, received {invoices.Count} invoices; in order: {(inOrder ? "yes" : "no")}");
        console.WriteLine($"first: {invoices.FirstOrDefault()}, last: {invoices.LastOrDefault()}");
        console.WriteLine($"pipeline block completed: {pipeline.Completion.IsCompletedSuccessfully}");
        console.WriteLine();

        // The same workers as an async stream: breaking out of the loop stops the run.
        console.WriteLine($"StreamAsync, first {StreamTake} invoices:");
        var taken = 0;
        await foreach (var invoice in JobQueue.StreamAsync(Enumerable.Range(1, Orders), workers, new JobOptions { KeepOrder = true }, cancellationToken))
        {
            console.WriteLine($"  {invoice}");
            if (++taken == StreamTake)
            {
                break;
            }
        }
    }

    private static Order ParseOrder(int id) => new(id, Quantity: 1 + (id % 3));

    // Prices arrive out of order (the delays differ), so without KeepOrder the invoices would too.
    private static async Task<Order> PriceAsync(Order order, CancellationToken cancellationToken)
    {
        await Task.Delay(1 + ((order.Id * 7) % 5), cancellationToken);
        return order with { Total = order.Quantity * 9.99m };
    }

    private static string FormatInvoice(Order order) => string.Create(CultureInfo.InvariantCulture, $"invoice #{order.Id}: {order.Quantity} x 9.99 = {order.Total}");

    private static int InvoiceNumber(string invoice) => int.Parse(invoice.AsSpan("invoice #".Length, invoice.IndexOf(':', StringComparison.Ordinal) - "invoice #".Length), CultureInfo.InvariantCulture);

    private sealed record Order(int Id, int Quantity, decimal Total = 0);
}
