"""A proof run's report as text, JSON and markdown, and the registry as a
list (``prove --list``, offline). The markdown is written to be committed
as evidence (docs/proofs/<date>-<region>.md): what was tested, in which
account and region, from which commit, each verdict with the responses
that decided it, and for a failure the code that relies on it and the
issue to open."""

from __future__ import annotations

import json

from ..deploy.changeset import git_commit
from . import registry
from .estimate import Estimate
from .model import FAILS, HOLDS, Experiment
from .runner import Report

MARK = {HOLDS: "holds", FAILS: "FAILS", "inconclusive": "inconclusive", "not run": "not run"}


def _money(est: Estimate) -> str:
    more = f", plus {len(est.unpriced)} item(s) not priced" if est.unpriced else ""
    return f"about ${est.usd:.2f}{more}, about {est.minutes:.0f} minutes"


def estimate_lines(est: Estimate) -> list[str]:
    lines = [
        f"estimate ({est.region}, prices read {', '.join(est.prices_read) or 'never'}): {_money(est)}; "
        f"worst case {est.bound_minutes:.0f} minutes (every bounded wait to its limit)"
    ]
    for r in est.rows:
        lines.append(f"  {r.experiment}: ${r.usd:.4f}, {r.minutes:g} min (worst case {r.bound_minutes:g})")
        lines += [f"    {x}" for x in r.lines]
        lines += [f"    {u}" for u in r.unpriced]
    return lines


def _by_id() -> dict[str, Experiment]:
    return {e.id: e for e in registry.EXPERIMENTS}


def _doc(report: Report) -> dict:
    exps = _by_id()
    return {
        "account": report.account,
        "region": report.region,
        "run": report.run_id,
        "started": report.started,
        "commit": git_commit(),
        "interrupted": report.interrupted,
        "estimate": {
            "usd": round(report.estimate.usd, 4),
            "minutes": report.estimate.minutes,
            "unpriced": report.estimate.unpriced,
        },
        "results": [
            {
                "id": r.experiment,
                "outcome": r.outcome,
                "reason": r.reason,
                "seconds": r.seconds,
                "assumption": exps[r.experiment].assumption,
                "reliedOn": [str(x) for x in exps[r.experiment].relies],
                "issueToOpen": exps[r.experiment].issue if r.outcome == FAILS else None,
                "stacks": r.stacks,
                "cleaned": r.cleaned,
                "evidence": r.evidence,
            }
            for r in report.results
        ],
        "left": [{"what": x.what, "command": x.command, "scheduled": x.scheduled} for x in report.left],
    }


def render_json(report: Report) -> str:
    return json.dumps(_doc(report), indent=2, default=str)


def render_text(report: Report) -> str:
    exps = _by_id()
    lines = [
        f"proof run {report.run_id} in account {report.account}, {report.region}"
        + (" (INTERRUPTED)" if report.interrupted else "")
    ]
    for r in report.results:
        lines.append(f"  {MARK[r.outcome]:<12} {r.experiment}: {r.reason} ({r.seconds:g}s)")
        if r.outcome == FAILS:
            e = exps[r.experiment]
            lines.append(f"               relied on by: {', '.join(str(x) for x in e.relies)}")
            lines.append(f"               open an issue: {e.issue}")
    if report.unremoved:
        lines.append(f"left in the account ({len(report.unremoved)}); remove with:")
        lines += [f"  {x.what}: {x.command}" for x in report.unremoved]
    scheduled = [x for x in report.left if x.scheduled]
    if scheduled:
        lines.append(f"still in the account until AWS deletes it ({len(scheduled)}); inspect with:")
        lines += [f"  {x.what}: {x.command}" for x in scheduled]
    if not report.left:
        lines.append("nothing left in the account")
    return "\n".join(lines)


def render_markdown(report: Report) -> str:
    doc = _doc(report)
    date = report.started[:10]
    out = [
        f"# Proof run {date}, {report.region}",
        "",
        f"Account `{report.account}`, run `{report.run_id}`, commit `{doc['commit']}`, started "
        f'{report.started}. Made by `python build.py prove` (docs/deploy.md, "Proving the assumptions").'
        + (" **The run was interrupted.**" if report.interrupted else ""),
        "",
        f"Estimated beforehand: {_money(report.estimate)}.",
        "",
        "| experiment | verdict | reason | seconds |",
        "|---|---|---|---|",
    ]
    for r in doc["results"]:
        out.append(f"| `{r['id']}` | {MARK[r['outcome']]} | {r['reason']} | {r['seconds']:g} |")
    failed = [r for r in doc["results"] if r["outcome"] == FAILS]
    if failed:
        out += ["", "## Failed assumptions", ""]
        for r in failed:
            out += [
                f"### `{r['id']}`",
                "",
                r["assumption"],
                "",
                "Relied on by: " + ", ".join(f"`{x}`" for x in r["reliedOn"]),
                "",
                f"Issue to open: **{r['issueToOpen']}**",
                "",
            ]
    out += ["", "## Evidence", ""]
    for r in doc["results"]:
        out += [
            f"<details><summary><code>{r['id']}</code>: {MARK[r['outcome']]}</summary>",
            "",
            f"{r['assumption']}",
            "",
            "```json",
            json.dumps(r["evidence"], indent=2, default=str),
            "```",
            "",
            "</details>",
            "",
        ]
    out += ["## Left in the account", ""]
    out += [
        f"- {x['what']}" + (" (AWS deletes it by itself)" if x["scheduled"] else "") + f": `{x['command']}`"
        for x in doc["left"]
    ] or ["Nothing: every stack and object the run made was deleted."]
    return "\n".join(out) + "\n"


def render_list(fmt: str, est: Estimate | None) -> str:
    """The registry: experiments (with cost and time when an estimate is
    given) and the entries that are not experiments, with why."""
    if fmt == "markdown":
        return registry.docs_table(est)
    rows = {r.experiment: r for r in est.rows} if est else {}
    if fmt == "json":
        return json.dumps(
            {
                "experiments": [
                    {
                        "id": e.id,
                        "assumption": e.assumption,
                        "reliedOn": [str(x) for x in e.relies],
                        "serviceRole": e.service_role,
                        "minutes": e.minutes,
                        "usd": round(rows[e.id].usd, 4) if e.id in rows else None,
                        "unpriced": rows[e.id].unpriced if e.id in rows else [],
                        "source": e.source,
                    }
                    for e in registry.EXPERIMENTS
                ],
                "notExperiments": [
                    {"id": n.id, "assumption": n.assumption, "why": n.why} for n in registry.NOT_EXPERIMENTS
                ],
            },
            indent=2,
        )
    lines = []
    for e in registry.EXPERIMENTS:
        r = rows.get(e.id)
        cost = f"${r.usd:.2f}" + (f" + {len(r.unpriced)} not priced" if r.unpriced else "") if r else "?"
        lines.append(f"{e.id:<36} {cost:<22} {e.minutes:>5g} min  {e.assumption}")
    lines.append("")
    lines.append("not experiments:")
    lines += [f"{n.id:<36} {n.why}" for n in registry.NOT_EXPERIMENTS]
    return "\n".join(lines)
