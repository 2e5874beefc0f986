"""Registry: one ECR repository per service, scanned on push, encrypted with
KMS, immutable tags, kept when the stack is deleted."""

from __future__ import annotations

import json

from troposphere import Output, Sub, Template, ecr

from wealist_cfn.core.parameters import add_parameters
from wealist_cfn.core.settings import BuildSettings

from .common import new_template, tags

# Images are tagged with the commit they were built from (immutable tags).
# A tagged image may be what an instance runs (the released tag in Parameter
# Store) or what docs/operations.md tells operators to roll back to (any
# earlier release), and ECR counts images by push time, not by use: any rule
# that selects tagged images could expire one of those. So the rule is:
# every tagged image is kept, and only untagged ones (a failed push's
# leftovers, layers of a re-tagged build) expire. Pruning old releases is a
# deliberate, manual step (docs/operations.md).
LIFECYCLE_POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "Expire untagged images a day after their push; tagged images are never expired",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 1,
            },
            "action": {"type": "expire"},
        },
    ]
}


def build(settings: BuildSettings) -> Template:
    t = new_template("Wealist registry: ECR repositories for the service images.")
    add_parameters(t, "Project", "Environment", "EcrRepositoryPrefix")
    for service in settings.services:
        repo = t.add_resource(
            ecr.Repository(
                f"{service.key}ServiceRepository",
                RepositoryName=Sub(f"${{EcrRepositoryPrefix}}{service.name}"),
                ImageScanningConfiguration=ecr.ImageScanningConfiguration(ScanOnPush=True),
                ImageTagMutability="IMMUTABLE",
                EncryptionConfiguration=ecr.EncryptionConfiguration(EncryptionType="KMS"),
                LifecyclePolicy=ecr.LifecyclePolicy(
                    LifecyclePolicyText=json.dumps(LIFECYCLE_POLICY, sort_keys=True, separators=(",", ":"))
                ),
                Tags=tags(service.name),
                # Images outlive the stack: deleting it must not delete what
                # production runs. RetainExceptOnCreate: a first create that
                # rolls back deletes the (still empty) repository, so the retry
                # does not fail on its fixed name.
                DeletionPolicy="RetainExceptOnCreate",
                UpdateReplacePolicy="Retain",
            )
        )
        t.add_output(
            Output(
                f"{service.key}ServiceRepositoryUri",
                Description=f"URI of the {service.name} repository.",
                Value=repo.get_att("RepositoryUri"),
            )
        )
        t.add_output(
            Output(
                f"{service.key}ServiceRepositoryArn",
                Description=f"ARN of the {service.name} repository.",
                Value=repo.get_att("Arn"),
            )
        )
    return t
