"""Hierarchical planning: plan types, dependency DAG, JSON repair, validators, constraints, planners."""
