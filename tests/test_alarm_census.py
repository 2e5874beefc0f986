"""Alarm census: every metric an alarm reads is one that AWS documents as
published with those dimensions, and every alarm's TreatMissingData fits
how that metric is published. The table, with the page that documents each
row, is wealist_cfn.stacks.alarms.PUBLISHED_METRICS.

No stand-in: the templates as built, resolved for both modes
(wealist_cfn.cfn.model). What real CloudWatch does and no local endpoint
shows: an alarm on a metric nobody publishes sits in INSUFFICIENT_DATA, or
in ALARM forever when missing data is breaching."""

from __future__ import annotations

import pytest

from wealist_cfn.cfn import model as cfnmodel
from wealist_cfn.config import load
from wealist_cfn.core.settings import PARAMS_DIR
from wealist_cfn.stacks import alarms as alarms_mod


@pytest.fixture(scope="module", params=["false", "true"], ids=["single", "multi"])
def alarms(request) -> dict[str, dict]:
    values = dict(load(PARAMS_DIR / "prod.json").values, EnableMultiAZ=request.param)
    stacks = cfnmodel.resolve(values)
    return {k: v["Properties"] for k, v in stacks["AlarmsStack"].of_type("AWS::CloudWatch::Alarm").items()}


def _metrics(alarm: dict) -> list[tuple[str, str, tuple[str, ...]]]:
    if "MetricName" in alarm:
        return [(alarm["Namespace"], alarm["MetricName"], tuple(sorted(d["Name"] for d in alarm["Dimensions"])))]
    out = []
    for q in alarm["Metrics"]:
        if "MetricStat" in q:
            m = q["MetricStat"]["Metric"]
            out.append((m["Namespace"], m["MetricName"], tuple(sorted(d["Name"] for d in m["Dimensions"]))))
    return out


def test_every_alarm_reads_a_documented_metric_with_its_dimensions(alarms):
    table = {(ns, m, tuple(sorted(d))) for ns, m, d in alarms_mod.PUBLISHED_METRICS}
    unknown = {key: m for key, a in alarms.items() for m in _metrics(a) if m not in table}
    assert unknown == {}


def test_missing_data_breaches_only_where_the_metric_comes_every_period(alarms):
    """Breaching on missing data is right only when AWS publishes the metric
    every period for as long as the thing exists; a metric published per
    node, only with traffic or only when non-zero must not page by its
    absence."""
    table = {(ns, m, tuple(sorted(d))): how for (ns, m, d), (how, _src) in alarms_mod.PUBLISHED_METRICS.items()}
    for key, alarm in alarms.items():
        kinds = {table[m] for m in _metrics(alarm)}
        if alarm["TreatMissingData"] == "breaching":
            assert kinds == {alarms_mod.EVERY_PERIOD}, key
        else:
            assert alarm["TreatMissingData"] == "notBreaching", key


def test_every_row_of_the_table_cites_its_source_and_is_used():
    """A row without a documentation page, or one no alarm reads, is not kept."""
    for row, (how, source) in alarms_mod.PUBLISHED_METRICS.items():
        assert how in (
            alarms_mod.EVERY_PERIOD,
            alarms_mod.WHEN_NONZERO,
            alarms_mod.WITH_TRAFFIC,
            alarms_mod.PER_NODE,
        ), row
        assert source.startswith("https://docs.aws.amazon.com/"), row
    values = dict(load(PARAMS_DIR / "prod.json").values, EnableMultiAZ="true")
    read = {
        m
        for a in cfnmodel.resolve(values)["AlarmsStack"].of_type("AWS::CloudWatch::Alarm").values()
        for m in _metrics(a["Properties"])
    }
    assert {(ns, m, tuple(sorted(d))) for ns, m, d in alarms_mod.PUBLISHED_METRICS} == read
