using JobQ.Dataflow.Internal;

namespace JobQ.Dataflow.Tests;

[TestClass]
public static class AssemblySetup
{
    /// <summary>
    /// The library creates its metrics meter in the background once the first run's loops are started (so that a
    /// fresh process's first worker call is not delayed by it); tests that count measurements need it to exist before
    /// their first run.
    /// </summary>
    [AssemblyInitialize]
    public static void CreateMeterFirst(TestContext context) => JobMetrics.EnsureCreated(wait: true);
}
