"""Text, JSON and markdown forms of a preflight report and a cost estimate
(strings only; the command line prints them)."""

from __future__ import annotations

import json
from dataclasses import asdict

from .checks import FAIL, NOT_CHECKABLE, OK, WARN, Report
from .cost import Estimate, PriceTable, comparable_delta

_MARK = {OK: "ok  ", FAIL: "FAIL", WARN: "warn", NOT_CHECKABLE: "n/a "}
_MD_MARK = {OK: "✅ ok", FAIL: "❌ fail", WARN: "⚠️ warn", NOT_CHECKABLE: "➖ not checkable here"}


def preflight_text(report: Report, *, quiet: bool = False) -> str:
    """Every check and the verdict; ``quiet`` (-q): the checks that failed
    or warn, with their fixes, and the verdict."""
    width = max(len(r.name) for r in report.results)
    lines = []
    for r in report.results:
        if quiet and r.status not in (FAIL, WARN):
            continue
        lines.append(f"{_MARK[r.status]}  {r.name:<{width}}  {r.finding}")
        for d in r.details:
            lines.append(f"{'':<{width + 8}}- {d}")
        if r.fix and r.status != OK:
            lines.append(f"{'':<{width + 8}}fix: {r.fix}")
    failed, warned = len(report.failed), sum(1 for r in report.results if r.status == WARN)
    skipped = [r.name for r in report.not_checkable]
    run = len(report.results) - len(skipped)
    verdict = f"preflight failed: {failed} of {run} checks" if failed else f"preflight passed: {run} checks"
    if skipped:
        verdict += f" ({len(skipped)} not checkable here: {', '.join(skipped)})"
    lines.append(f"{verdict}, {warned} warning(s), {report.seconds:.2f}s ({report.region}, stack {report.stack_name})")
    return "\n".join(lines)


def preflight_json(report: Report, extra: dict | None = None) -> str:
    """``extra``: keys the command adds (the parameter file and values, cliopts.params_document)."""
    return json.dumps({**report.to_dict(), **(extra or {})}, indent=2, default=str)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def preflight_markdown(report: Report) -> str:
    head = "passed" if report.ok else f"failed ({len(report.failed)} of {len(report.results)})"
    lines = [
        f"### Preflight {head}: `{report.stack_name}` in {report.region}",
        "",
        "| check | result | finding | fix |",
        "|---|---|---|---|",
    ]
    for r in report.results:
        finding = _md(r.finding + ("".join(f"<br>• {d}" for d in r.details) if r.details else ""))
        fix = f"`{_md(r.fix)}`" if r.fix and r.status != OK else ""
        lines.append(f"| {r.name} | {_MD_MARK[r.status]} | {finding} | {fix} |")
    return "\n".join(lines)


def _usd(v: float) -> str:
    return f"${v:,.2f}"


def _rows(estimates: dict[str, Estimate]):
    """(resource, what, usage, {mode: monthly or None}) across modes, in first-seen order."""
    rows: dict[tuple[str, str, str], dict[str, object]] = {}
    for mode, est in estimates.items():
        for i in est.items:
            key = (i.resource, i.what, i.price_key)
            row = rows.setdefault(key, {"usage": i.usage})
            row[mode] = i.monthly if i.priced else "unsourced"
    # Fixed costs first, then what depends on usage; first-seen order within each.
    return dict(sorted(rows.items(), key=lambda kv: kv[1]["usage"]))


def _difference(estimates: dict[str, Estimate], bold: str = "") -> str:
    """Multi-AZ over single-AZ; never one figure when a changed item has no
    price on one side or both (it would silently drop that side)."""
    d, left_out = comparable_delta(estimates["single"], estimates["multi"])
    figure = f"{bold}{'+' if d >= 0 else '-'}{_usd(abs(d))}/month{bold}"
    if left_out:
        named = "; ".join(map(str, left_out))
        return (
            f"multi-AZ over single-AZ: difference incomplete: no sourced price for {named}; "
            f"the priced rest moves {figure}"
        )
    return f"multi-AZ: {figure} over single-AZ"


def cost_text(estimates: dict[str, Estimate], prices: PriceTable, usage_note: str) -> str:
    modes = list(estimates)
    names = {"single": "single-AZ", "multi": "multi-AZ"}
    wide = max(len(f"{r} {w}") for (r, w, _) in _rows(estimates)) + 2
    head = f"{'resource':<{wide}}" + "".join(f"{names[m]:>14}" for m in modes)
    out = [
        f"monthly on-demand estimate, {prices.region}, prices read {', '.join(prices.dates)} "
        f"({prices.path.name}; {prices.hours_per_month:g} h a month)",
        head,
    ]
    for section, usage in (("fixed", False), ("usage-dependent (" + usage_note + ")", True)):
        out.append(f"-- {section}")
        for (res, what, _key), row in _rows(estimates).items():
            if row["usage"] != usage:
                continue
            cells = "".join(
                f"{(_usd(row[m]) if isinstance(row.get(m), float) else str(row.get(m, '-'))):>14}" for m in modes
            )
            out.append(f"{(res + ' ' + what):<{wide}}{cells}")
    out.append(f"{'fixed total':<{wide}}" + "".join(f"{_usd(estimates[m].fixed):>14}" for m in modes))
    out.append(f"{'usage total':<{wide}}" + "".join(f"{_usd(estimates[m].usage):>14}" for m in modes))
    out.append(f"{'monthly total':<{wide}}" + "".join(f"{_usd(estimates[m].total):>14}" for m in modes))
    if len(modes) == 2:
        out.append(_difference(estimates))
    unsourced = sorted({i.price_key for e in estimates.values() for i in e.unsourced})
    if unsourced:
        out.append(f"not in the totals (no sourced price in {prices.path.name}): {', '.join(unsourced)}")
    return "\n".join(out)


def cost_markdown(estimates: dict[str, Estimate], prices: PriceTable, usage_note: str) -> str:
    modes = list(estimates)
    names = {"single": "single-AZ", "multi": "multi-AZ"}
    out = [
        f"### Monthly on-demand estimate ({prices.region}, prices read {', '.join(prices.dates)})",
        "",
        "| resource | kind | " + " | ".join(names[m] for m in modes) + " |",
        "|---|---|" + "---:|" * len(modes),
    ]
    for (res, what, _key), row in _rows(estimates).items():
        cells = " | ".join(_usd(row[m]) if isinstance(row.get(m), float) else str(row.get(m, "-")) for m in modes)
        out.append(f"| `{res}` {_md(what)} | {'usage' if row['usage'] else 'fixed'} | {cells} |")
    for label, attr in (("fixed total", "fixed"), ("usage total", "usage"), ("**monthly total**", "total")):
        out.append(f"| {label} | | " + " | ".join(_usd(getattr(estimates[m], attr)) for m in modes) + " |")
    if len(modes) == 2:
        text = _difference(estimates, bold="**")
        out += ["", text[0].upper() + text[1:] + "."]
    out += ["", f"Usage-dependent rows come from {usage_note}, not from the templates."]
    unsourced = sorted({i.price_key for e in estimates.values() for i in e.unsourced})
    if unsourced:
        out.append(f"Not in the totals (no sourced price): {', '.join(f'`{k}`' for k in unsourced)}.")
    return "\n".join(out)


def cost_json(
    estimates: dict[str, Estimate], prices: PriceTable, usage: dict, usage_source: str, extra: dict | None = None
) -> str:
    """``extra``: keys the command adds (the parameter file and values, cliopts.params_document)."""
    doc = {
        "region": prices.region,
        "pricesFile": prices.path.name,
        "pricesRead": prices.dates,
        "hoursPerMonth": prices.hours_per_month,
        "usage": usage,
        "usageSource": usage_source,
        "modes": {m: e.to_dict() for m, e in estimates.items()},
    }
    if len(estimates) == 2:
        d, left_out = comparable_delta(estimates["single"], estimates["multi"])
        # No figure when a changed item is unpriced: the priced rest alone
        # would read as the difference (its sum is in the text output).
        doc["multiMinusSingle"] = {
            "usd": None if left_out else round(d, 2),
            "complete": not left_out,
            "leftOut": [asdict(x) for x in left_out],
        }
    doc.update(extra or {})
    return json.dumps(doc, indent=2)
