"""Reports: metrics.json, report.html, terminal summaries and comparisons of runs."""
