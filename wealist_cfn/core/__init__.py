"""The leaf every other layer stands on: standard library only."""
