namespace JobQ.Dataflow.Samples;

/// <summary>Every sample, in the order the command line lists them.</summary>
public static class SampleCatalog
{
    /// <summary>Creates the samples.</summary>
    /// <param name="checksumDirectory">The directory the checksum sample hashes; <see langword="null"/> for a tree it creates itself.</param>
    /// <param name="checksumManifest">Where the checksum sample keeps its manifest; <see langword="null"/> for a temporary file it removes.</param>
    /// <returns>The synopsis samples first, then the real-world ones.</returns>
    public static IReadOnlyList<ISample> Create(string? checksumDirectory = null, string? checksumManifest = null) =>
    [
        new RunSample(),
        new ChainSample(),
        new ThreadsSample(),
        new KeepOrderSample(),
        new EmptyRstSample(),
        new JobManagerEchoSample(),
        new AccountsSample(),
        new RateLimitSample(),
        new JobManagerResizeSample(),
        new ChecksumSample(checksumDirectory, checksumManifest),
        new DataflowBlockSample(),
        new PollyRetrySample(),
        new MetricsSample(),
        new ProgressSample(),
    ];
}
