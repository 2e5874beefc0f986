"""`diff` text of a long property value: line by line, never two identical
cut prefixes. No stand-in: the comparison and the rendering take plain
template dicts."""

from __future__ import annotations

import json

from wealist_cfn.daytwo import diff


def _body(title: str) -> str:
    widgets = [
        {"type": "metric", "x": 0, "y": 6 * i, "properties": {"title": f"w{i}", "region": "ap-northeast-2"}}
        for i in range(6)
    ]
    widgets[4]["properties"]["title"] = title
    return json.dumps({"widgets": widgets})


def test_a_long_dashboard_body_is_diffed_line_by_line():
    """A dashboard body whose fifth widget changes title: the old output cut
    both sides at 80 characters, showing two identical prefixes."""
    old = {"Type": "AWS::CloudWatch::Dashboard", "Properties": {"DashboardBody": _body("old-title")}}
    new = {"Type": "AWS::CloudWatch::Dashboard", "Properties": {"DashboardBody": _body("new-title")}}
    change = diff.compare_resource("AlarmsStack", "AlarmsDashboard", old, new, "ap-northeast-2")
    report = diff.DiffReport("wealist-prod", stacks=1, resources=[change])
    text = diff.render_text(report)
    assert "      Properties.DashboardBody: changed, line by line (- deployed, + local)" in text
    assert '        -        "title": "old-title"' in text and '        +        "title": "new-title"' in text
    # Only the changed widget's neighbourhood, not the whole body twice.
    assert text.count('"title": "w') <= 2


def test_a_short_value_stays_on_one_line():
    old = {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.1.0.0/16"}}
    new = {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.2.0.0/16"}}
    change = diff.compare_resource("NetworkStack", "Vpc", old, new, "ap-northeast-2")
    text = diff.render_text(diff.DiffReport("wealist-prod", stacks=1, resources=[change]))
    assert "      Properties.CidrBlock: 10.1.0.0/16 -> 10.2.0.0/16" in text
