using System.Collections.Concurrent;
using Spectre.Console;

namespace JobQ.Dataflow.Samples;

/// <summary>
/// Per-key ordered processing: events of many accounts arrive interleaved; a dispatcher sends every event of
/// one account to the same partition, so each account's events are applied one at a time, in order, while
/// different accounts are applied in parallel. At the end the sample checks that per-account order held.
/// </summary>
public sealed class AccountsSample : ISample
{
    private const int Accounts = 8;
    private const int EventsPerAccount = 40;
    private const int Partitions = 4;

    /// <inheritdoc/>
    public string Name => "accounts";

    /// <inheritdoc/>
    public string Description => "Per-account ordered processing with a dispatcher: accounts in parallel, each account's events in order.";

    /// <inheritdoc/>
    public bool IsSynopsis => false;

    /// <inheritdoc/>
    public async Task RunAsync(TextWriter output, CancellationToken cancellationToken = default)
    {
        var console = SampleConsole.For(output);
        var events = MakeEvents(seed: 42);
        var ledger = new ConcurrentDictionary<int, Account>();
        var running = 0;
        var mostAtOnce = 0;
        var lastSeen = -1L;
        var stageOutputInOrder = true;

        // One partition per worker: an account always lands in partition (account mod 4), whose single thread
        // applies its events one after another; the four partitions run at the same time.
        AccountEvent Apply(AccountEvent e)
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref mostAtOnce, now);
            var account = ledger.GetOrAdd(e.Account, id => new Account(id));
            account.Apply(e);
            Thread.Sleep(1); // stands for a database write
            Interlocked.Decrement(ref running);
            return e;
        }

        // A dispatcher stage passes its outputs on in input order, whatever partition finished first.
        void Audit(AccountEvent e)
        {
            stageOutputInOrder &= e.Id == lastSeen + 1;
            lastSeen = e.Id;
        }

        var workers = Workers.Of<AccountEvent>()
            .Then(Apply, threads: Partitions, dispatcher: e => e.Account)
            .Then(Audit);
        var result = await JobQueue.RunAsync(events, workers, cancellationToken: cancellationToken);

        var table = new Table().Border(TableBorder.Rounded).Title("Ledger");
        table.AddColumn("Account");
        table.AddColumn(new TableColumn("Partition").RightAligned());
        table.AddColumn(new TableColumn("Events").RightAligned());
        table.AddColumn(new TableColumn("Balance").RightAligned());
        table.AddColumn("In order");
        foreach (var account in ledger.Values.OrderBy(a => a.Id))
        {
            table.AddRow(
                $"acct-{account.Id}",
                $"{account.Id % Partitions}",
                $"{account.Applied}",
                $"{account.Balance,10:N2}",
                account.OutOfOrder == 0 ? "yes" : $"no ({account.OutOfOrder} out of order)");
        }

        console.Write(table);
        var orderHeld = ledger.Values.All(a => a.OutOfOrder == 0 && a.Applied == EventsPerAccount);
        console.WriteLine($"events: {result.Stats.Stages[0].Out} applied across {ledger.Count} accounts on {Partitions} partitions");
        console.WriteLine($"per-account order held: {(orderHeld ? "yes" : "NO")}");
        console.WriteLine($"stage output in input order: {(stageOutputInOrder && lastSeen == events.Count - 1 ? "yes" : "NO")}");
        console.WriteLine($"most events applied at once: {mostAtOnce} (partitions run in parallel)");
    }

    private static List<AccountEvent> MakeEvents(int seed)
    {
        // Each account's events are numbered 0, 1, 2, ... and interleaved at random with the other accounts'.
        var random = new Random(seed);
        var next = new int[Accounts];
        var events = new List<AccountEvent>(Accounts * EventsPerAccount);
        while (events.Count < Accounts * EventsPerAccount)
        {
            var account = random.Next(Accounts);
            if (next[account] == EventsPerAccount)
            {
                continue;
            }

            var amount = Math.Round((decimal)(random.NextDouble() * 200 - 80), 2);
            events.Add(new AccountEvent(events.Count, account, next[account]++, amount));
        }

        return events;
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>One event of one account; <see cref="Sequence"/> counts that account's events from 0.</summary>
    /// <param name="Id">The event's position in the input.</param>
    /// <param name="Account">The account.</param>
    /// <param name="Sequence">The event's number within its account.</param>
    /// <param name="Amount">The amount credited (negative: debited).</param>
    public sealed record AccountEvent(long Id, int Account, int Sequence, decimal Amount);

    // Touched only by the partition that owns the account, one event at a time: no lock needed.
    private sealed class Account(int id)
    {
        public int Id { get; } = id;

        public int Applied { get; private set; }

        public int OutOfOrder { get; private set; }

        public decimal Balance { get; private set; }

        public void Apply(AccountEvent e)
        {
            if (e.Sequence != Applied)
            {
                OutOfOrder++;
            }

            Applied++;
            Balance += e.Amount;
        }
    }
}
