"""Wealist deploy: package, change sets, review, execution."""
