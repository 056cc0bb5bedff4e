using System.Globalization;
using System.Text;

namespace JobQ.Dataflow;

/// <summary>A snapshot of one stage of a pipeline, as jobq's <c>stat()</c> reports each worker.</summary>
/// <remarks>
/// Counts are taken without stopping the pipeline, so a snapshot of a running pipeline may be a few
/// items behind on one counter relative to another; once the run has finished they are exact.
/// </remarks>
public sealed class StageStats
{
    internal StageStats(
        string name,
        QueueStats input,
        int workerCount,
        QueueStats? coordinator,
        IReadOnlyList<PartitionStats>? dispatcher,
        long @in,
        long @out,
        long failed,
        long dropped)
    {
        Name = name;
        Input = input;
        WorkerCount = workerCount;
        Coordinator = coordinator;
        Dispatcher = dispatcher;
        In = @in;
        Out = @out;
        Failed = failed;
        Dropped = dropped;
    }

    /// <summary>Gets the stage's name: the one given to <c>Then</c>, else <c>Type.Method</c> of the worker, <c>stageN</c> for a lambda (N its index from 0), <c>LimitJobSpeed</c> for a speed limit.</summary>
    public string Name { get; }

    /// <summary>Gets the stage's input queue, counted in items (jobq's <c>input</c>).</summary>
    public QueueStats Input { get; }

    /// <summary>Gets the stage's current number of workers (jobq's <c>nr_worker</c>); partitions for a dispatcher stage.</summary>
    public int WorkerCount { get; }

    /// <summary>
    /// Gets the queue that puts results back in input order (jobq's <c>coordinator</c>): present only under
    /// keepOrder or with a dispatcher.
    /// </summary>
    public QueueStats? Coordinator { get; }

    /// <summary>Gets the input and output queue of each partition: present only with a dispatcher.</summary>
    public IReadOnlyList<PartitionStats>? Dispatcher { get; }

    /// <summary>Gets the number of worker calls this stage has started.</summary>
    public long In { get; }

    /// <summary>Gets the number of worker calls this stage has finished, whatever their outcome.</summary>
    public long Out { get; }

    /// <summary>Gets the number of worker calls in progress (<see cref="In"/> − <see cref="Out"/>).</summary>
    public long Doing => In - Out;

    /// <summary>Gets the number of finished calls that failed (threw, or a dispatcher that threw).</summary>
    public long Failed { get; }

    /// <summary>Gets the number of finished calls that passed nothing on: returned <see cref="JobQueue.EmptyRst"/>, or a generator that yielded nothing.</summary>
    public long Dropped { get; }

    /// <summary>Returns the counts as a C# record prints them: <c>StageStats { Name = add1, In = 4, ... }</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString()
    {
        var text = new StringBuilder(string.Create(
            CultureInfo.InvariantCulture,
            $"StageStats {{ Name = {Name}, In = {In}, Out = {Out}, Doing = {Doing}, Failed = {Failed}, Dropped = {Dropped}, WorkerCount = {WorkerCount}, Input = {Input}"));
        if (Coordinator is { } coordinator)
        {
            text.Append(", Coordinator = ").Append(coordinator);
        }

        if (Dispatcher is { } partitions)
        {
            text.Append(", Dispatcher = ").Append(JobStats.List(partitions));
        }

        return text.Append(" }").ToString();
    }
}
