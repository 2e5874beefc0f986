"""What an experiment is: the assumption it tests, where the project relies
on it, the smallest template that exercises it, the read-only calls that
observe the result, a verdict function over those calls' answers, and what
it costs and takes. Plain data and small functions, so that a new
assumption is one more entry in :mod:`wealist_cfn.prove.registry`.

Nothing here calls AWS; :mod:`.runner` does, through the context an
experiment's functions receive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

HOLDS, FAILS, INCONCLUSIVE, NOT_RUN = "holds", "fails", "inconclusive", "not run"


@dataclass(frozen=True)
class Reliance:
    """Code that is wrong when the assumption fails: a file of the
    repository and a function (or class, or module-level name) in it."""

    file: str
    name: str

    def __str__(self) -> str:
        return f"{self.file}:{self.name}"


@dataclass(frozen=True)
class Charge:
    """One billed quantity, in the unit of the price table entry ``key``
    (``wealist_cfn/preflight/prices/<region>.json``): instance-hours,
    load balancer-hours, key-months, requests."""

    key: str
    quantity: float
    what: str


@dataclass(frozen=True)
class Unpriced:
    """Something billed that the price table cannot price: named, never $0."""

    what: str
    why: str


@dataclass(frozen=True)
class Bounds:
    """What bounds an experiment's wall time when every wait runs to its
    limit (the runner's CHANGE_SET_TIMEOUT, OPERATION_TIMEOUT and
    DELETE_TIMEOUT): change sets computed, change sets executed, the
    observation's own waits, stacks deleted at clean-up."""

    change_sets: int = 1
    executes: int = 1
    wait_minutes: float = 0.0
    stacks: int = 1


@dataclass(frozen=True)
class Verdict:
    outcome: str  # HOLDS | FAILS | INCONCLUSIVE
    reason: str
    evidence: dict = field(default_factory=dict)  # the responses (or their parts) that decided it


def holds(reason: str, **evidence) -> Verdict:
    return Verdict(HOLDS, reason, evidence)


def fails(reason: str, **evidence) -> Verdict:
    return Verdict(FAILS, reason, evidence)


def inconclusive(reason: str, **evidence) -> Verdict:
    return Verdict(INCONCLUSIVE, reason, evidence)


# act(ctx) exercises the assumption (deploys, through ctx); observe(ctx)
# makes only read-only calls and returns {label: response}; verdict(responses)
# decides. ``Any`` for the context: it is runner.Context, which imports this.
Act = Callable[[Any], None]
Observe = Callable[[Any], dict]
Decide = Callable[[dict], Verdict]


@dataclass(frozen=True)
class Experiment:
    id: str
    assumption: str  # one sentence
    relies: tuple[Reliance, ...]
    # File name -> template text (YAML). The first entry is the root; a root
    # naming another entry by a relative TemplateURL nests it (packaged to
    # the artifact bucket). Empty: the observation needs no stack.
    templates: dict[str, str]
    act: Act
    observe: Observe
    verdict: Decide
    charges: tuple[Charge, ...] = ()
    unpriced: tuple[Unpriced, ...] = ()
    minutes: float = 5.0  # expected wall time, deploys and clean-up included
    minutes_basis: str = ""
    bounds: Bounds = Bounds()
    # What to open when it fails: the title of the issue to file.
    issue: str = ""
    service_role: bool = False  # deployed with the environment's service role (needs --params)
    # The root stack is named as long as the environment's root stack
    # (wealist-prod: 12 characters), not <prefix>-proof-<id>-<run>: for
    # behaviours that depend on the name's length (generated names are cut
    # to the service's limit).
    root_as_long_as_production: bool = False
    source: str = ""  # the documentation the expected behaviour comes from
    # What it replaces: a former hand-run check of docs/deploy.md ("former
    # check N"), an "unproven" note there, an item of issue 28. The test
    # keeping the docs and the registry in step reads them.
    docs: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotAnExperiment:
    """An assumption the docs list that this kit does not test, and why."""

    id: str
    assumption: str
    relies: tuple[Reliance, ...]
    why: str
    docs: tuple[str, ...] = ()
