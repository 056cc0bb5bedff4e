namespace JobQ.Dataflow.Benchmarks.Infrastructure;

/// <summary>One line of the quick table; every cell is already formatted.</summary>
internal sealed record Row(string Case, string Ours, string Baseline, string Ratio, string Target, string Met);
