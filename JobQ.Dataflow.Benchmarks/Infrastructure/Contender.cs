namespace JobQ.Dataflow.Benchmarks.Infrastructure;

/// <summary>One side of a comparison: a label for the progress log and a run that returns one sample.</summary>
/// <param name="Label">The name shown with the samples on stderr (ours, Dataflow, Akka, ...).</param>
/// <param name="Sample">Runs the workload once and returns the measured figure (seconds, bytes, ...).</param>
internal sealed record Contender(string Label, Func<double> Sample);
