"""The evaluator stands alone: importing it loads no AWS SDK, no stand-in,
no template library and no other part of wealist_cfn, so the strict layer,
the tests and any later CLI check can all use it. Stand-in: none; a fresh
interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

from wealist_cfn.core.settings import ROOT_DIR

SCRIPT = (
    "import json, sys; import wealist_cfn.policyeval; "
    "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
    "('wealist_cfn', 'boto3', 'botocore', 'moto', 'troposphere', 'awacs', 'yaml', 'cfnlint'))))"
)


def test_importing_the_evaluator_loads_nothing_else():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT_DIR, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    loaded = set(json.loads(out))
    assert loaded == {
        "wealist_cfn",
        "wealist_cfn.policyeval",
        "wealist_cfn.policyeval.conditions",
        "wealist_cfn.policyeval.engine",
        "wealist_cfn.policyeval.patterns",
    }
