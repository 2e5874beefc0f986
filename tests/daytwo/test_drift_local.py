"""`drift` is not offered where the endpoint says it does not detect drift
(the local rehearsal declares ``answers_drift: false`` in its capability
document, wealist_cfn.aws.target): one line saying where drift runs, exit 2,
and no drift call made. An endpoint that declares nothing is not taken for
the rehearsal: drift is tried there. Stand-in: moto's server, with the
rehearsal's capability answer (tests/conftest.py moto_server) or without
it (undeclared_endpoint: a plain moto server)."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

import pytest

from wealist_cfn import rehearsal as localenv
from wealist_cfn.cli import main
from wealist_cfn.core.settings import PARAMS_DIR
from wealist_cfn.daytwo import drift


def _drift(monkeypatch, url: str) -> tuple[int, str, list]:
    def use(args, region=None):  # `local up`'s endpoint is the test's server
        args.endpoint_url = url

    monkeypatch.setattr(localenv, "use", use)
    started = []

    def no_drift(*a, **kw):
        started.append(a)
        raise KeyboardInterrupt  # the refusal is what is looked at; stop here

    monkeypatch.setattr(drift, "detect", no_drift)
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        try:
            code = main(["drift", "--params", str(PARAMS_DIR / "prod.json"), "--local"])
        except KeyboardInterrupt:
            code = None
    return code, err.getvalue(), started


@pytest.mark.moto
def test_drift_is_not_offered_on_the_local_endpoint(monkeypatch, moto_endpoint):
    code, err, started = _drift(monkeypatch, moto_endpoint)
    assert code == 2 and not started
    assert err.strip() == (
        "error: drift is not offered on the local endpoint: it does not detect drift "
        "as CloudFormation does; run `python build.py drift --params FILE` against AWS"
    )


@pytest.mark.moto
def test_an_endpoint_that_declares_nothing_is_asked_for_drift(monkeypatch, undeclared_endpoint):
    """A plain moto server answers no capability document: an unknown
    endpoint, where drift detection starts (and shows what it answers)."""
    code, err, started = _drift(monkeypatch, undeclared_endpoint)
    assert started and "not offered" not in err
