namespace JobQ.Dataflow.Samples;

/// <summary>jobq's JobManager example: start the workers, put items by hand, join.</summary>
public sealed class JobManagerEchoSample : SynopsisSample
{
    /// <inheritdoc/>
    public override string Name => "job-manager-echo";

    /// <inheritdoc/>
    public override string Description => "A JobManager fed by hand with Put, then Join; prints 0 1 2.";

    /// <inheritdoc/>
    public override string PythonExample => "jm = jobq.JobManager([_echo]); for i in range(3): jm.put(i); jm.join()";

    /// <inheritdoc/>
    protected override void Run(TextWriter output)
    {
        int Echo(int args)
        {
            output.WriteLine(args);
            return args;
        }

        using var jm = JobManager.Create(Workers.Of<int>().Then(Echo));
        for (var i = 0; i < 3; i++)
        {
            jm.Put(i);
        }

        jm.Join();
    }
}
