"""The review shows every effective parameter value and where it came from
(--parameter, the file, derived, default), and the JSON document carries
the same values and the deploy's timeline.

The renderers are tested on a Review built from a real Config (no AWS). The
end-to-end test runs ``deploy --local-oneshot`` (moto's server in the
process, with the project's compatibility layer) and records the
CreateChangeSet request botocore sends, to prove the override is what
CloudFormation is asked to apply, not only what the review says.
"""

from __future__ import annotations

import json

import botocore.client
import pytest

from helpers.deploy import run_cli
from wealist_cfn import config
from wealist_cfn.core.settings import PARAMS_DIR
from wealist_cfn.deploy import review


def _config_with_override():
    config.use_overrides([PARAMS_DIR / "prod.json"], config.parse_overrides(["BackendMinSize=3"]))
    try:
        return config.load(PARAMS_DIR / "prod.json")
    finally:
        config.use_overrides((), {})


def _review() -> review.Review:
    r = review.Review("wealist-prod", "UPDATE", "deploy-1")
    r.values = review.effective_values(_config_with_override())
    r.params_file = "params/prod.json (--env prod)"
    return r


def test_text_review_lists_values_with_their_source():
    lines = review.render_text(_review()).splitlines()
    start = lines.index("Values (params/prod.json (--env prod)):")
    block = lines[start + 1 :]
    assert any(line.split() == ["BackendMinSize", "3", "(--parameter)"] for line in block)
    assert any(line.split() == ["VpcCidr", "10.1.0.0/16", "(file)"] for line in block)
    assert any(line.split() == ["BackendHealthCheckType", "EC2", "(derived)"] for line in block)
    defaults = next(line for line in block if line.startswith("  defaults: "))
    assert "LogRetentionDays=90" in defaults and "BackendMinSize" not in defaults
    # Every root parameter is shown once, on its own line or among the defaults.
    named = [line for line in block[: block.index(defaults)]]
    assert len(named) + defaults.count("=") == len(config.ROOT_PARAMETERS)


def test_markdown_and_json_reviews_carry_the_values():
    md = review.render_markdown(_review())
    assert "<summary>Values (params/prod.json (--env prod); 1 set by --parameter)</summary>" in md
    assert "| BackendMinSize | 3 | --parameter |" in md
    doc = _review().to_dict()
    assert doc["paramsFile"] == "params/prod.json (--env prod)"
    assert {"key": "BackendMinSize", "value": "3", "source": "--parameter"} in doc["values"]
    assert {"key": "Project", "value": "wealist", "source": "file"} in doc["values"]


@pytest.mark.moto
def test_a_deploy_sends_the_override_and_its_document_says_where_each_value_came_from(monkeypatch):
    sent: list[dict] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        if operation_name == "CreateChangeSet":
            sent.append({p["ParameterKey"]: p["ParameterValue"] for p in api_params.get("Parameters", [])})
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    code, out, err = run_cli(
        "deploy", "--env", "dev", "--parameter", "BackendMaxSize=3", "--local-oneshot", "--yes", "--output", "json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert sent and sent[0]["BackendMaxSize"] == "3"  # dev.json says 2
    assert doc["paramsFile"]["from"] == "--env" and doc["paramsFile"]["env"] == "dev"
    assert {"key": "BackendMaxSize", "value": "3", "source": "--parameter"} in doc["parameters"]
    assert {"key": "BackendMaxSize", "value": "3", "source": "--parameter"} in doc["review"]["values"]
    assert doc["review"]["paramsFile"].endswith("(--env dev)")
    # The timeline: the events the watch saw (moto reports the root's own) and the final state.
    kinds = [e["kind"] for e in doc["timeline"]]
    assert "event" in kinds and kinds[-1] == "final"
    # The in-process endpoint is shared by the module's tests: an earlier one may have made the stack.
    assert doc["timeline"][-1]["status"] == doc["result"]["status"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
