namespace JobQ.Dataflow.Tests.Support;

/// <summary>A worker seam for Moq: tests mock it to count and script calls.</summary>
public interface IFetcher
{
    /// <summary>Fetches the value for <paramref name="x"/>.</summary>
    /// <param name="x">The key.</param>
    /// <returns>The value.</returns>
    int Fetch(int x);
}
