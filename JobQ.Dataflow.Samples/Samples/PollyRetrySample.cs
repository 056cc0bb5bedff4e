using System.Collections.Concurrent;
using System.Threading.Tasks.Dataflow;
using Polly;
using Polly.Retry;
using Spectre.Console;

namespace JobQ.Dataflow.Samples;

/// <summary>
/// Retries with Polly: an async worker calls a flaky stock service, wrapped with
/// <see cref="Workers{TIn, TOut}.WithResilience(ResiliencePipeline)"/> and a retry strategy. The error policy
/// (<see cref="ErrorPolicy.DeadLetter"/>) sees an item only when Polly gives up on it, and sends it to a dead-letter block.
/// </summary>
public sealed class PollyRetrySample : ISample
{
    /// <summary>The number of products whose stock is looked up.</summary>
    public const int Products = 12;

    /// <summary>The retries Polly makes after a failed first attempt.</summary>
    public const int MaxRetries = 3;

    /// <inheritdoc/>
    public string Name => "polly-retry";

    /// <inheritdoc/>
    public string Description => $"A flaky service called through Polly retries (up to {MaxRetries}); items Polly gives up on go to a dead-letter block.";

    /// <inheritdoc/>
    public bool IsSynopsis => false;

    /// <summary>How many first attempts fail for a product: 0, 1 or 2, or all of them (the product's shard is down).</summary>
    /// <param name="sku">The product.</param>
    /// <returns>The number of failing attempts before the service answers.</returns>
    public static int FailuresBeforeSuccess(int sku) => sku % 4 == 3 ? int.MaxValue : sku % 4;

    /// <inheritdoc/>
    public async Task RunAsync(TextWriter output, CancellationToken cancellationToken = default)
    {
        var console = SampleConsole.For(output);
        var service = new FlakyStockService();
        var stock = new ConcurrentDictionary<int, int>();

        // Retry transient failures a few times with a short exponential backoff (2, 4, 8 ms here; seconds in real life).
        var retry = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<HttpRequestException>(),
                MaxRetryAttempts = MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                Delay = TimeSpan.FromMilliseconds(2),
            })
            .Build();

        // Failures Polly gave up on: each one carries the stage, the item and the last exception.
        var deadLetters = new BufferBlock<JobFailure>();

        void Save(StockLevel level) => stock[level.Sku] = level.Quantity;

        var workers = Workers.Of<int>()
            .Then(service.GetStockAsync, threads: 4, name: "get-stock")
            .WithResilience(retry)
            .Then(Save, name: "save");
        var options = new JobOptions { ErrorPolicy = ErrorPolicy.DeadLetter(deadLetters) };
        var result = await JobQueue.RunAsync(Enumerable.Range(1, Products), workers, options, cancellationToken);

        deadLetters.Complete();
        var failures = deadLetters.TryReceiveAll(out var received) ? received : [];

        var table = new Table().Border(TableBorder.Rounded).Title("Stock look-ups");
        table.AddColumn(new TableColumn("SKU").RightAligned());
        table.AddColumn(new TableColumn("Attempts").RightAligned());
        table.AddColumn("Outcome");
        table.AddColumn(new TableColumn("Stock").RightAligned());
        for (var sku = 1; sku <= Products; sku++)
        {
            var saved = stock.TryGetValue(sku, out var quantity);
            table.AddRow(
                $"{sku}",
                $"{service.Attempts(sku)}",
                saved ? (service.Attempts(sku) == 1 ? "ok" : "ok after retries") : "dead-lettered",
                saved ? $"{quantity}" : "-");
        }

        console.Write(table);

        var dead = new Table().Border(TableBorder.Rounded).Title("Dead letters");
        dead.AddColumn("Stage");
        dead.AddColumn(new TableColumn("Item").RightAligned());
        dead.AddColumn("Exception");
        dead.AddColumn("Message");
        foreach (var failure in failures.OrderBy(f => (int)f.Item!))
        {
            dead.AddRow(Markup.Escape(failure.Stage), $"{failure.Item}", failure.Exception.GetType().Name, Markup.Escape(failure.Exception.Message));
        }

        console.Write(dead);
        var stage = result.Stats.Stages[0];
        console.WriteLine($"looked up {Products} products: {stock.Count} saved, {failures.Count} dead-lettered; get-stock failed {stage.Failed}, calls {stage.Out}");
    }

    /// <summary>A stock service that fails the first attempts of some products, as a service under load would.</summary>
    private sealed class FlakyStockService
    {
        private readonly ConcurrentDictionary<int, int> _attempts = new();

        public int Attempts(int sku) => _attempts.GetValueOrDefault(sku);

        public async Task<StockLevel> GetStockAsync(int sku, CancellationToken cancellationToken)
        {
            var attempt = _attempts.AddOrUpdate(sku, 1, (_, n) => n + 1);
            await Task.Yield(); // stands for the HTTP call
            cancellationToken.ThrowIfCancellationRequested();
            if (attempt <= FailuresBeforeSuccess(sku))
            {
                throw new HttpRequestException("503 Service Unavailable");
            }

            return new StockLevel(sku, Quantity: sku * 10);
        }
    }

    private sealed record StockLevel(int Sku, int Quantity);
}
