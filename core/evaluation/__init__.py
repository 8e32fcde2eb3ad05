"""Evaluation of selectors, planners, timing deciders and trained models on datasets, stored as runs."""
