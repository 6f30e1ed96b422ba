"""Documents built from the analysis: the report, the comparison, the figures (rendered by
harness.render)."""
