"""Timing judgment: should the agent call a tool now or answer directly (rule, LLM, hybrid)."""
