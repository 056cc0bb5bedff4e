using JobQ.Dataflow.Internal;

namespace JobQ.Dataflow;

/// <summary>
/// A caller-owned handle that a run writes its live statistics into (jobq's <c>probe</c> dictionary);
/// read it with <see cref="JobQueue.Stat(Probe)"/> during or after the run.
/// </summary>
/// <remarks>
/// A probe follows the latest run that was given it. It is safe to read from any thread while the run goes on.
/// </remarks>
public sealed class Probe
{
    private volatile Pipeline? _pipeline;

    internal void Attach(Pipeline pipeline) => _pipeline = pipeline;

    internal JobStats Snapshot() => _pipeline?.Snapshot() ?? JobStats.Empty;
}
