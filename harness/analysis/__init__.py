"""What the records say: summaries, comparisons and verdicts, history, bottlenecks, explanations
(DataFrames in, DataFrames out)."""
