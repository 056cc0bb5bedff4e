namespace JobQ.Dataflow.Samples;

/// <summary>jobq's "multiple threads with order kept" example.</summary>
public sealed class KeepOrderSample : SynopsisSample
{
    /// <inheritdoc/>
    public override string Name => "keep-order";

    /// <inheritdoc/>
    public override string Description => "Two threads for multi2 with keepOrder: prints 2 4 6 in input order.";

    /// <inheritdoc/>
    public override string PythonExample => "jobq.run(range(3), [add1, (multi2, 2), printarg], keep_order=True)";

    /// <inheritdoc/>
    protected override void Run(TextWriter output)
    {
        void PrintArg(int args) => output.WriteLine(args);

        JobQueue.Run(Enumerable.Range(0, 3), Workers.Of<int>().Then(Add1).Then(Multi2, threads: 2).Then(PrintArg), keepOrder: true);
    }

    private static int Add1(int args) => args + 1;

    private static int Multi2(int args) => args * 2;
}
