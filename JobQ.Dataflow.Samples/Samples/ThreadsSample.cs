namespace JobQ.Dataflow.Samples;

/// <summary>jobq's "create 2 threads for job multi2" example: outputs leave in completion order.</summary>
public sealed class ThreadsSample : SynopsisSample
{
    /// <inheritdoc/>
    public override string Name => "threads";

    /// <inheritdoc/>
    public override string Description => "Two threads for multi2: prints 2, 4 and 6 in whatever order they finish.";

    /// <inheritdoc/>
    public override string PythonExample => "jobq.run(range(3), [add1, (multi2, 2), printarg])";

    /// <inheritdoc/>
    protected override void Run(TextWriter output)
    {
        void PrintArg(int args) => output.WriteLine(args);

        JobQueue.Run(Enumerable.Range(0, 3), Workers.Of<int>().Then(Add1).Then(Multi2, threads: 2).Then(PrintArg));
    }

    private static int Add1(int args) => args + 1;

    private static int Multi2(int args) => args * 2;
}
