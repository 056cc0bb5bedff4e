using System.Collections.Concurrent;

namespace JobQ.Dataflow.Tests.Support;

/// <summary>An <see cref="IProgress{T}"/> that records each report synchronously, on the reporting thread.</summary>
/// <typeparam name="T">The report type.</typeparam>
internal sealed class RecordingProgress<T>(Action<T>? onReport = null) : IProgress<T>
{
    private readonly ConcurrentQueue<T> _reports = new();

    public IReadOnlyList<T> Reports => [.. _reports];

    public void Report(T value)
    {
        _reports.Enqueue(value);
        onReport?.Invoke(value);
    }
}
