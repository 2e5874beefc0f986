"""Clients made from several threads at once (preflight runs its checks in a
pool). boto3's guide ("Multithreading or multiprocessing with clients"):
clients are thread-safe once made, but making them is not, so
:meth:`wealist_cfn.aws.Aws.client` makes each one under a lock on first
use. No endpoint: the session's ``client`` is replaced by a counting fake.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from wealist_cfn.aws import Aws


def test_threads_asking_at_once_get_one_client_made_once(monkeypatch):
    """Eight threads ask for "ec2" together (a barrier lines them up): the
    session makes one client, and every thread gets that one; a service no
    thread asked for is never made."""
    aws = Aws("ap-northeast-2", local_credentials=True)
    made = []
    # Inside the session's client(), each caller waits (bounded) for all
    # eight to be there too: without a lock they all are, and eight clients
    # are made; with it the first waits alone, gives up, and makes the one.
    together = threading.Barrier(8)

    def fake_client(service, **kw):
        try:
            together.wait(timeout=0.5)
        except threading.BrokenBarrierError:
            pass
        made.append(service)
        return object()

    monkeypatch.setattr(aws.session, "client", fake_client)
    start = threading.Barrier(8)

    def ask(_):
        start.wait()
        return aws.client("ec2")

    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(ask, range(8)))
    assert made == ["ec2"]
    assert all(g is got[0] for g in got)
