"""Subcommands (placeholder until implemented)."""


def register(subparsers):
    pass
