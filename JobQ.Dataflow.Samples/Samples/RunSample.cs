namespace JobQ.Dataflow.Samples;

/// <summary>jobq's first synopsis example: two stages, one thread each.</summary>
public sealed class RunSample : SynopsisSample
{
    /// <inheritdoc/>
    public override string Name => "run";

    /// <inheritdoc/>
    public override string Description => "Two stages, one thread each: add1 then printarg; prints 1 2 3.";

    /// <inheritdoc/>
    public override string PythonExample => "jobq.run([0, 1, 2], [add1, printarg])";

    /// <inheritdoc/>
    protected override void Run(TextWriter output)
    {
        void PrintArg(int args) => output.WriteLine(args);

        JobQueue.Run([0, 1, 2], Workers.Of<int>().Then(Add1).Then(PrintArg));
    }

    private static int Add1(int args) => args + 1;
}
