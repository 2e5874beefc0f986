"""`drift --local` is not offered: one line saying where drift runs, exit 2,
and no drift call made. No stand-in: the endpoint lookup is replaced by one
that only sets the URL (the refusal comes before any client)."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

from wealist_cfn import rehearsal as localenv
from wealist_cfn.cli import main
from wealist_cfn.core.settings import PARAMS_DIR
from wealist_cfn.daytwo import drift


def test_drift_is_not_offered_on_the_local_endpoint(monkeypatch):
    def fake_use(args, region=None):
        args.endpoint_url = "http://localhost:1"
    monkeypatch.setattr(localenv, "use", fake_use)

    def no_drift(*a, **kw):
        raise AssertionError("drift detection was started on the local endpoint")
    monkeypatch.setattr(drift, "detect", no_drift)
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        code = main(["drift", "--params", str(PARAMS_DIR / "prod.json"), "--local"])
    assert code == 2
    assert err.getvalue().strip() == ("error: drift is not offered on the local endpoint: it does not detect drift "
                                      "as CloudFormation does; run `python build.py drift --params FILE` against AWS")
