"""The analysis app's use cases: one module per noun (profiles, costs)."""
