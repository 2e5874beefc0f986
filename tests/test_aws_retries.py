"""How many times a call is tried: the figure aws.py's comment states.

Stand-in: no server. Each request is answered before it is sent (botocore's
``before-send`` event) with HTTP 400 ``Throttling``, which standard mode
retries (boto3 guide, "Retries", standard mode's throttling errors); the
backoff sleep is skipped. AWS answers a throttled call the same way
(ThrottlingException / Throttling, HTTP 400), so the count is the one a
real throttled call sees until its retry quota runs out.
"""

from __future__ import annotations

import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse

from wealist_cfn.aws import Aws

THROTTLED = (
    b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
    b"<Message>Rate exceeded</Message></Error><RequestId>x</RequestId></ErrorResponse>"
)


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_kw):
        yield self._body


def test_a_throttled_call_is_tried_eight_times_in_all(monkeypatch):
    """botocore's Config reads ``max_attempts`` as retries after the first
    request and ``total_max_attempts`` as all attempts (botocore/config.py);
    the comment in aws.py says 8 attempts a call. With ``max_attempts: 8``
    this counted 9."""
    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda _s: None)
    aws = Aws("ap-northeast-2", local_credentials=True)
    cfn = aws.client("cloudformation")
    sent = []

    def answer(request, **_kw):
        sent.append(request.url)
        return AWSResponse(request.url, 400, {"Content-Type": "text/xml"}, _Raw(THROTTLED))

    cfn.meta.events.register("before-send.cloudformation.DescribeStacks", answer)
    with pytest.raises(cfn.exceptions.ClientError) as err:
        cfn.describe_stacks(StackName="wealist-prod")
    assert err.value.response["Error"]["Code"] == "Throttling"
    assert len(sent) == 8
