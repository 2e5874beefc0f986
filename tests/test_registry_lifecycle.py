"""The ECR lifecycle policy never expires a tagged image: a deployed tag or
a rollback target.

ECR's rules, from the ECR User Guide, "Lifecycle policy properties" and
"Lifecycle policy evaluation rules"
(https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html):
``tagStatus`` is ``tagged``, ``untagged`` or ``any``; a rule with ``tagged``
needs ``tagPrefixList`` or ``tagPatternList``; ``imageCountMoreThan`` counts
by push time. These are checked here on the committed template (no stand-in
evaluates lifecycle policies: moto stores the text only)."""

from __future__ import annotations

import json

from wealist_cfn.cfn import templates as tpl
from wealist_cfn.core.settings import TEMPLATES_DIR


def _policies() -> dict[str, dict]:
    t = tpl.load((TEMPLATES_DIR / "registry.yaml").read_text())
    return {
        rid: json.loads(r["Properties"]["LifecyclePolicy"]["LifecyclePolicyText"])
        for rid, r in t["Resources"].items()
        if r["Type"] == "AWS::ECR::Repository"
    }


def test_every_repository_has_a_policy_that_never_selects_a_tagged_image():
    policies = _policies()
    assert len(policies) == 2
    for rid, policy in policies.items():
        assert policy["rules"], rid
        for rule in policy["rules"]:
            assert rule["selection"]["tagStatus"] == "untagged", (rid, rule)
            assert rule["action"] == {"type": "expire"}


def test_untagged_images_do_expire():
    for policy in _policies().values():
        [rule] = policy["rules"]
        assert rule["selection"] == {
            "tagStatus": "untagged",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": 1,
        }
        assert rule["rulePriority"] == 1
