"""The committed templates (templates/*.yaml, what a deploy uploads),
resolved by :mod:`wealist_cfn.cfn.model` for the committed parameter file in
either mode. Tests of template safety read these rather than the code that
writes them, so a template edited by hand (or left stale) is checked too.
"""

from __future__ import annotations

from functools import lru_cache

from wealist_cfn import config
from wealist_cfn.cfn import model as cfnmodel
from wealist_cfn.cfn import templates as tpl
from wealist_cfn.core.settings import PARAMS_DIR, TEMPLATES_DIR

MODES = {"single-az": "false", "multi-az": "true"}


@lru_cache(maxsize=None)
def parsed() -> dict[str, dict]:
    return {f.name: tpl.load(f.read_text()) for f in sorted(TEMPLATES_DIR.glob("*.yaml"))}


@lru_cache(maxsize=None)
def resolved(mode: str, **values: str) -> dict[str, cfnmodel.Stack]:
    """``{"Root": ..., "NetworkStack": ..., ...}`` for prod.json with
    EnableMultiAZ per ``mode`` (and any other root parameter overridden)."""
    cfg = config.load(PARAMS_DIR / "prod.json").with_values(EnableMultiAZ=MODES[mode], **values)
    return cfnmodel.resolve_set(parsed(), cfg.values, region=cfg.region)


def resources(mode: str, **values: str) -> dict[str, dict]:
    """Every resource of the set, root included: ``Path/LogicalId`` -> resource."""
    return {
        f"{path}/{lid}": res for path, stack in resolved(mode, **values).items() for lid, res in stack.resources.items()
    }
