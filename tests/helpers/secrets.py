"""Every piece of every secret bootstrap made, to look for in any output."""

from __future__ import annotations

PIECE = 6


def _pieces(secrets: list[str]) -> set[str]:
    return {s[i : i + PIECE] for s in secrets for i in range(len(s) - PIECE + 1)}


def _leaks(text: str, pieces: set[str]) -> set[str]:
    return {text[i : i + PIECE] for i in range(len(text) - PIECE + 1)} & pieces
