"""What a proof run costs and takes, before anything starts: each
experiment's charges priced with the project's price table
(:func:`wealist_cfn.preflight.cost.load_prices`, the figures ``build.py
cost`` uses), and what the table cannot price named, never counted as $0."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..preflight.cost import PriceError, load_prices
from .model import Experiment

# The runner's bounds: a change set is computed in seconds to minutes; the
# slowest experiment (ElastiCache, four operations) stays under an hour per
# operation; a deletion under 45 minutes.
CHANGE_SET_TIMEOUT = 600.0
OPERATION_TIMEOUT = 60 * 60.0
DELETE_TIMEOUT = 45 * 60.0


@dataclass
class Row:
    experiment: str
    usd: float  # what the priced charges add up to
    minutes: float
    lines: list[str] = field(default_factory=list)  # one per charge: quantity, price, key
    unpriced: list[str] = field(default_factory=list)
    bound_minutes: float = 0.0  # every wait to its limit, the clean-up included
    cleanup_bound_minutes: float = 0.0  # the clean-up alone, at its limit


@dataclass
class Estimate:
    region: str
    rows: list[Row] = field(default_factory=list)
    prices_read: list[str] = field(default_factory=list)

    @property
    def usd(self) -> float:
        return sum(r.usd for r in self.rows)

    @property
    def minutes(self) -> float:
        return sum(r.minutes for r in self.rows)

    @property
    def bound_minutes(self) -> float:
        return sum(r.bound_minutes for r in self.rows)

    @property
    def cleanup_bound_minutes(self) -> float:
        """The longest clean-up of one experiment: what an interrupted or
        failed run may still need after the last step it took."""
        return max((r.cleanup_bound_minutes for r in self.rows), default=0.0)

    @property
    def unpriced(self) -> list[str]:
        return [f"{r.experiment}: {u}" for r in self.rows for u in r.unpriced]


def row(exp: Experiment, table) -> Row:
    b = exp.bounds if exp.templates else type(exp.bounds)(0, 0, exp.bounds.wait_minutes, 0)
    r = Row(exp.id, 0.0, exp.minutes)
    r.cleanup_bound_minutes = b.stacks * DELETE_TIMEOUT / 60
    r.bound_minutes = (
        (b.change_sets * CHANGE_SET_TIMEOUT + b.executes * OPERATION_TIMEOUT) / 60
        + b.wait_minutes
        + r.cleanup_bound_minutes
    )
    for c in exp.charges:
        try:
            price = table.get(c.key)
        except PriceError as exc:
            r.unpriced.append(f"{c.what}: {exc}")
            continue
        if price.usd is None:
            r.unpriced.append(f"{c.what}: not priced ({c.key} has no sourced figure in {table.path.name})")
            continue
        usd = c.quantity * price.usd
        r.usd += usd
        r.lines.append(
            f"{c.what}: {c.quantity:g} x ${price.usd:g} ({price.unit}, {c.key}, read {price.read}) = ${usd:.4f}"
        )
    r.unpriced += [f"{u.what}: not priced ({u.why})" for u in exp.unpriced]
    return r


def total(experiments: list[Experiment], region: str) -> Estimate:
    """Every experiment's row; the table is the region's (an unknown region
    is the cost engine's one-line error, exit 2)."""
    table = load_prices(region)
    return Estimate(region, [row(e, table) for e in experiments], table.dates)
