namespace JobQ.Dataflow.Benchmarks.Infrastructure;

/// <summary>One line of the quick table; every cell is already formatted.</summary>
/// <param name="Case">What the row measures, with its size and how many samples its figures are the median of.</param>
/// <param name="Ours">JobQ.Dataflow's figure.</param>
/// <param name="Baselines">The baseline's figure, or each baseline's, labelled.</param>
/// <param name="Ratio">Ours against the baseline, its direction said in the cell or in the table's legend.</param>
/// <param name="Target">The target the row is held to, or "-".</param>
/// <param name="Met">"yes", "**no**" (with the reason when it is not the figure), or "-" when there is no target.</param>
internal sealed record Row(string Case, string Ours, string Baselines, string Ratio, string Target, string Met);
