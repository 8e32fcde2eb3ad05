"""Metrics for selection, planning, timing and efficiency (names are a public contract)."""
