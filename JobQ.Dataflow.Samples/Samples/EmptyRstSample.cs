namespace JobQ.Dataflow.Samples;

/// <summary>jobq's EmptyRst example: a worker drops an item by returning <see cref="JobQueue.EmptyRst"/>.</summary>
public sealed class EmptyRstSample : SynopsisSample
{
    /// <inheritdoc/>
    public override string Name => "empty-rst";

    /// <inheritdoc/>
    public override string Description => "A worker returns JobQueue.EmptyRst to drop even numbers; prints 1 3 5 7 9.";

    /// <inheritdoc/>
    public override string PythonExample => "jobq.run(range(10), [drop_even_number, printarg])";

    /// <inheritdoc/>
    protected override void Run(TextWriter output)
    {
        void PrintArg(int args) => output.WriteLine(args);

        JobQueue.Run(Enumerable.Range(0, 10), Workers.Of<int>().Then(DropEvenNumber).Then(PrintArg));
    }

    private static WorkerResult<int> DropEvenNumber(int i) => i % 2 == 0 ? JobQueue.EmptyRst : i;
}
