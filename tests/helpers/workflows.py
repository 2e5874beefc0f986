"""The GitHub workflows, read as YAML."""

from __future__ import annotations

import yaml
from ops.tools import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def _load(name):
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc
