namespace JobQ.Dataflow.Samples;

/// <summary>jobq's second synopsis example: three stages in a chain.</summary>
public sealed class ChainSample : SynopsisSample
{
    /// <inheritdoc/>
    public override string Name => "chain";

    /// <inheritdoc/>
    public override string Description => "Three stages in a chain: add1, multi2, printarg; prints 2 4 6.";

    /// <inheritdoc/>
    public override string PythonExample => "jobq.run((0, 1, 2), [add1, multi2, printarg])";

    /// <inheritdoc/>
    protected override void Run(TextWriter output)
    {
        void PrintArg(int args) => output.WriteLine(args);

        JobQueue.Run([0, 1, 2], Workers.Of<int>().Then(Add1).Then(Multi2).Then(PrintArg));
    }

    private static int Add1(int args) => args + 1;

    private static int Multi2(int args) => args * 2;
}
