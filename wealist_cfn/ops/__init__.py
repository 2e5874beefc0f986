"""Wealist operations: bootstrap of prerequisites, rollout."""
