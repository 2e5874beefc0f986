"""Every relative link in README.md and docs/ leads somewhere: the file
exists and, for a link to a heading, the heading does. The README's details
live in docs/ and the runbooks point into deploy.md and operations.md by
heading, so a renamed heading or a moved section breaks a link silently
otherwise. Headings become anchors as GitHub makes them: lower case,
punctuation dropped, spaces to hyphens."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_CODE = re.compile(r"```.*?```", re.S)


def _anchor(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_anchor(h) for h in re.findall(r"^#+ (.*)$", _CODE.sub("", page.read_text()), re.M)}


def test_anchor_follows_githubs_rule():
    assert _anchor("When a deploy is interrupted or fails") == "when-a-deploy-is-interrupted-or-fails"
    assert (
        _anchor("Before the first deploy: TLS and who reaches monitoring")
        == "before-the-first-deploy-tls-and-who-reaches-monitoring"
    )
    assert _anchor("`diff`: my checkout against what runs") == "diff-my-checkout-against-what-runs"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", _CODE.sub("", page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path) if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target}: no such heading in {dest.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)
