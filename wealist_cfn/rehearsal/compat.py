"""A local AWS endpoint for rehearsals: moto's server, in this process, on
127.0.0.1, plus the few compatibility pieces its CloudFormation engine needs
to run the real nested templates through the real flow.

Each piece is a patch on moto's in-process classes (the server runs in this
process, so the patch reaches it), installed only inside :func:`compat` and
removed on exit. Each has a test in ``tests/deploy/test_local_compat.py``
that fails once moto no longer needs it. What they do, and what still
differs from AWS:

1. ``GetAtt Child.Outputs.X``: moto's nested-stack resource has no
   ``get_cfn_attribute``; a child parameter wired from another child's output
   makes ExecuteChangeSet answer HTTP 500. The patch returns the child's
   output, as AWS does; and since moto's ``Fn::Sub`` splits
   ``${Child.Outputs.X}`` at every dot, a GetAtt of more than two parts is
   joined back to ``[Child, "Outputs.X"]`` as AWS reads it.
2. Outputs after a change-set create: moto builds a stack's outputs when the
   (empty) REVIEW_IN_PROGRESS shell is made and never again, so a stack
   created by ExecuteChangeSet shows none. The patch rebuilds them after
   execution.
3. Parameter-only changes: moto's change-set diff ignores parameters, so
   flipping ``EnableMultiAZ`` shows no change (and would end as "no
   changes"). The patch diffs with the parameters, and also counts a
   resource as modified when it uses a Condition whose parameters changed.
4. Nested stack updates: moto deletes a nested stack and creates a new one
   on every update (a new database, in effect). The patch updates the child
   in place, resource by resource, as AWS does.
5. ``Fn::Cidr``: moto does not implement it (the subnets' ``!Select [n,
   !Cidr [...]]`` fails with ``KeyError: 0`` and the child is never made).
   The patch computes it as AWS documents: ``count`` blocks of ``cidrBits``
   host bits carved in order from the block.
6. Types moto does not model (ElastiCache replication group, scaling
   policy, security-group egress...): moto reports them CREATE_COMPLETE but
   has no object for them, so ``Ref`` is None and a ``GetAtt`` in Outputs
   crashes the child (``'NoneType' object has no attribute
   'has_cfn_attr'``). The patch gives them a stand-in whose physical ID and
   attributes read ``unmodelled:<Type>:<name>[:<attribute>]``: nothing is
   created, and the outputs say so instead of pretending.
7. ``AWS::SSM::Parameter`` ``Tags``: CloudFormation documents them as a
   key-value map; moto expects a list of ``{Key, Value}`` and fails
   (``string indices must be integers``). The patch converts the map.
8. Short-form YAML tags on a mapping or a nested sequence (``!Base64``
   over ``Fn::Sub: [...]`` in the launch templates' UserData): moto's YAML
   reader returns the raw parse nodes, and ``Fn::Base64`` then fails
   (``'list' object has no attribute 'encode'``). The patch reads short
   forms with this project's reader (:func:`.templates.load`'s), which
   builds the long form for every node kind.
9. RDS instance updates: moto's DBInstance has no CloudFormation update,
   so a Modify sets the resource to None and the next ``GetAtt
   Database.Endpoint.Address`` fails ("references undefined resource").
   The patch modifies the instance in place for the properties AWS changes
   without replacement (MultiAZ, class, storage, backup retention and
   windows); others are left as they are (the review in AWS, not this
   rehearsal, is the place to see a replacement).
10. ``GetAtt TargetGroup.TargetGroupFullName`` (the alarms' dimension):
   moto's target group has no ``get_cfn_attribute`` and the load balancer
   stack fails. The patch returns what AWS documents, the ARN's resource
   part ``targetgroup/<name>/<id>``.
11. ``AWS::KMS::Key`` ``Tags``: CloudFormation documents ``Key``/``Value``
   pairs; moto hands them to KMS's CreateKey, which names them
   ``TagKey``/``TagValue``, and fails (``KeyError: 'TagKey'``). The patch
   renames the fields.
12. DeleteStack of a stack a change set made: moto registers a stack's
   exports when CreateStack makes it but not when a change set does, and its
   DeleteStack then fails with ``KeyError`` (HTTP 500); once deleted, it also
   fails (HTTP 500) to describe the stack by ID, evaluating outputs of
   resources that are gone. AWS deletes a stack whose exports nothing
   imports (API_DeleteStack: "Exports can't be deleted while imported") and
   answers DescribeStacks of a deleted stack's ID with ``DELETE_COMPLETE``
   and no outputs. The patch registers the missing exports before the
   delete and answers no outputs for a deleted stack, so ``destroy
   --local`` runs to its end.

13. One stack per name: moto's CreateChangeSet of type CREATE always
   makes a new stack, so a change set left unexecuted (``plan``, ``plan
   --discard``, a "no" at the prompt) leaves a REVIEW_IN_PROGRESS shell and
   the next deploy makes a second stack of the same name, which ``outputs``,
   ``diff`` and ``status`` may then read instead. CloudFormation's
   CreateChangeSet reference (``ChangeSetType``): a CREATE change set for a
   new stack "creates a stack with a unique stack ID, but no template or
   resources. The stack will be in the REVIEW_IN_PROGRESS state until you
   execute the change set", and "You can't use ... the CREATE type to create
   a change set for an existing stack". The patch makes a CREATE change set
   on a name whose live stack is such a shell reuse the shell (same stack
   ID, its earlier change sets and events kept; parameters and tags those of
   the new change set), and refuses one on a name whose live stack is
   anything else (a CREATE_COMPLETE or ROLLBACK_COMPLETE stack alike) with
   AWS's ``ValidationError`` text, "Stack [NAME] already exists and cannot be
   created again with the changeSet [CSNAME]." (as AWS answers it in SAM
   CLI's recorded deploy output and aws/copilot-cli's tests, and as
   LocalStack's provider raises it). For a ROLLBACK_COMPLETE stack the same
   answer is inferred, not seen from AWS: the reference refuses CREATE on
   any existing stack, and such a stack exists until it is deleted
   (LocalStack answers the same, with a note that it has not checked).
   A deleted stack does not hold its name.
14. ListChangeSets of one stack: moto's ListChangeSets ignores
   ``StackName`` and answers every change set of the account and region, so
   a REVIEW_IN_PROGRESS shell seemed to hold another stack's change sets
   (the engine then kept it) and a deploy examined another stack's change
   sets as candidates. The API reference (ListChangeSets): ``StackName`` is
   required, "The name or the Amazon Resource Name (ARN) of the stack for
   which you want to list change sets", and the answer is "each change set
   for the specified stack". The patch answers those only.
15. Asynchronous change-set deletion: moto forgets a change set the moment
   DeleteChangeSet is called. On AWS, "CloudFormation immediately starts to delete the change
   set" (user guide, "Delete a change set for a CloudFormation stack",
   https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-delete.html),
   and a change set's Status includes DELETE_PENDING, DELETE_IN_PROGRESS,
   DELETE_COMPLETE and DELETE_FAILED (ChangeSetSummary / DescribeChangeSet
   ``Status``). With the piece, a deleted change set reads DELETE_PENDING,
   then DELETE_IN_PROGRESS (ExecutionStatus UNAVAILABLE, not executable),
   and is gone after :data:`CHANGE_SET_DELETE_SECONDS`; how long AWS takes
   is not documented, so the figure only has to be short and bounded. Not
   modelled: DELETE_FAILED, and DELETE_COMPLETE (AWS's own listing of that
   state is not documented; here the change set is simply gone). Off by
   default until the engine waits out a deleting change set (a shell that
   still lists one is otherwise kept, as on AWS).

16. RDS deletion protection: moto's DBInstance made by CloudFormation
   ignores ``DeletionProtection`` (the instance reads false), and once the
   instance is protected (ModifyDBInstance) moto's DeleteStack itself fails
   with RDS's error, half-way through (moto's resource deletion raises and
   DeleteStack passes it on), where AWS accepts the DeleteStack.
   AWS::RDS::DBInstance documents ``DeletionProtection``: "The database
   can't be deleted when deletion protection is enabled" (RDS API
   reference, CreateDBInstance / ModifyDBInstance ``DeletionProtection``);
   DeleteDBInstance then answers ``InvalidParameterCombination``: "Cannot
   delete protected DB Instance, please disable deletion protection and try
   again." (as AWS answers it in hashicorp/terraform-provider-aws#26233).
   DeleteStack itself is accepted and the stack ends DELETE_FAILED: the
   instance's resource DELETE_FAILED with that reason, each stack above it
   DELETE_FAILED with "The following resource(s) failed to delete: [X]. ",
   its nested-stack resource "Embedded stack ARN was not successfully
   deleted: ..." (AWS's words in a DescribeStackEvents output published in
   a public repository, and in willjasen/rainstash#8). The patch records the property at create and in-place
   update, and answers a DeleteStack over a protected instance so (events
   and StackStatusReason included). Unlike AWS, which deletes what does not
   depend on the instance before it stops, the patch deletes nothing: the
   stack is left whole, DELETE_FAILED, and a DeleteStack once the protection
   is off deletes it. Load balancer deletion protection is not modelled
   (moto's load balancer made by CloudFormation ignores
   ``LoadBalancerAttributes``).

17. The capability answer: moto answers nothing that says "this is the
   rehearsal", and the product must not infer it from an endpoint URL
   being set (any --endpoint-url would then be taken for it). The piece
   answers ``GET`` :data:`wealist_cfn.aws.target.PATH` with
   :func:`target_document` (:data:`TARGET_CAPABILITIES` and
   :data:`UNANSWERED`) before moto's dispatcher sees the request.

On top of these, :func:`endpoint` installs :func:`wealist_cfn.rehearsal.strict.install`:
Parameter Store's value and name rules, and bucket policies evaluated as
IAM does over TLS.

Not filled, and said in the review / docs: moto reports no nested change
sets, no Replacement or property details, no resource events and no
failures or rollbacks (a bad request fails at the API call), and reports
types it does not model (ElastiCache, scaling policies) as complete.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

from wealist_cfn.aws import target as target_mod
from wealist_cfn.cfn import templates as templates_mod
from wealist_cfn.core.rules import DYNAMIC_REFERENCE
from wealist_cfn.rehearsal import strict

# Read calls preflight needs that moto's server does not answer as AWS
# does (see wealist_cfn/preflight/capability.py): the checks that need them
# are "not checkable here" on the local endpoint. Each entry has a test in
# tests/deploy/test_local_compat.py that fails once moto answers the call.
UNANSWERED = {
    # moto answers an empty list for every engine, version and class, which
    # would read as "cannot be ordered".
    "rds:DescribeOrderableDBInstanceOptions": "answers no options for any class",
    "elasticache:DescribeCacheEngineVersions": "not implemented (HTTP 500)",
    "elasticache:DescribeReservedCacheNodesOfferings": "not implemented (HTTP 500)",
}

# What the rehearsal says of itself when the product asks (GET
# wealist_cfn.aws.target.PATH, answered by compat's "target_answer"): the product
# learns it talks to the rehearsal from this answer, never from an endpoint
# URL being set. A plain moto server does not answer it and is treated as an
# unknown custom endpoint. Each False is a gap of moto's that the engine
# works around; tests/deploy/test_target.py checks the document.
TARGET_CAPABILITIES = {
    # No IAM roles: any caller may do anything, so a plan may create the
    # bucket, any --bucket is readable and no service role is handed over.
    "runs_under_roles": False,
    # A failed create is an API error and the stack stays IN_PROGRESS.
    "rolls_back_failed_create": False,
    # moto's DescribeStacks answers HTTP 500 after that update.
    "switches_protection_by_update": False,
    # UpdateTerminationProtection: HTTP 500 (not implemented).
    "supports_termination_protection": False,
    # Alarms are stored, never evaluated: a rollback trigger could not fire.
    "evaluates_alarms": False,
    # No instance runs the services; target groups have no healthy member.
    "reports_instance_health": False,
    # DescribeChangeSet reports no Capabilities and GetTemplate ignores
    # ChangeSetName: a change set's content cannot be proven there.
    "proves_change_sets": False,
    # DetectStackDrift does not answer as CloudFormation does.
    "answers_drift": False,
    # RDS DeletionProtection is honoured by DeleteStack (piece 16).
    "models_deletion_protection": True,
    # Parameter policies (Policies on PutParameter) are stored, not applied.
    "enforces_ssm_parameter_policies": False,
    # moto has no Price List API.
    "publishes_prices": False,
    # Local dummy secrets only, and nothing the stack makes is reachable.
    "holds_real_secrets": False,
    "serves_the_internet": False,
    # An `aws ...` line printed as a next step would reach AWS, not here.
    "runs_aws_cli_steps": False,
}
# The review note for change details this endpoint computes itself
# (rehearsal/changemodel.py marks their nested change set names: LOCAL_MARK).
CHANGE_DETAILS_NOTE = (
    "change details are local: moto reports no nested change sets, replacement or property "
    "details, so they were computed from the templates and the resource schemas' "
    "createOnlyProperties (AWS's own review may differ where replacement depends on a value)"
)


def target_document() -> dict:
    """The capability document the rehearsal answers (wealist_cfn.aws.target)."""
    from wealist_cfn.rehearsal.changemodel import LOCAL_MARK

    return {
        "kind": target_mod.DOCUMENT_KIND,
        "version": target_mod.DOCUMENT_VERSION,
        "capabilities": dict(TARGET_CAPABILITIES),
        "unanswered": dict(UNANSWERED),
        "changeDetails": {"mark": LOCAL_MARK, "note": CHANGE_DETAILS_NOTE},
    }


@contextlib.contextmanager
def answering_target() -> Iterator[None]:
    """Answer GET wealist_cfn.aws.target.PATH with :func:`target_document` on
    every moto server of this process (the one-shot endpoint, ``local up``'s
    server, the tests' server), before moto's dispatcher sees the request;
    every other request goes on to moto unchanged."""
    import json

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__
    body = json.dumps(target_document()).encode()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == target_mod.PATH and environ.get("REQUEST_METHOD") == "GET":
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return original(self, environ, start_response)

    DomainDispatcherApplication.__call__ = __call__
    try:
        yield
    finally:
        DomainDispatcherApplication.__call__ = original


# Letters and digits only: a value every reader accepts (an RDS master user
# name and password, an ElastiCache AUTH token; see wealist_cfn/rehearsal/strict.py).
PLACEHOLDER = "localRehearsalPlaceholder1"


# Pieces installed only when named in ``compat(enable=...)``: a model of
# AWS behaviour the engine does not yet handle. None today: the engine waits
# out an asynchronous change-set deletion (piece 15; deploy/changeset.py
# delete_and_wait).
OPT_IN: frozenset[str] = frozenset()
# How long a deleted change set stays visible (DELETE_PENDING for the first
# half, DELETE_IN_PROGRESS for the second): short, and bounded.
CHANGE_SET_DELETE_SECONDS = 0.2
# How often the engine polls the local endpoint (change set status, stack
# events): it answers at once, so AWS's pace (2 and 5 seconds) only waits.
POLL_SECONDS = CHANGE_SET_DELETE_SECONDS / 2
# The clock piece 15 reads; tests replace it to step through the states.
clock = time.monotonic


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _condition_params(template: dict, name: str, seen: set | None = None) -> set[str]:
    """Parameters a Condition depends on (directly or through other conditions)."""
    seen = seen if seen is not None else set()
    if name in seen:
        return set()
    seen.add(name)
    out: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "Ref" and isinstance(v, str):
                    out.add(v)
                elif k == "Condition" and isinstance(v, str):
                    out.update(_condition_params(template, v, seen))
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk((template.get("Conditions") or {}).get(name))
    return out


def _conditions_used(node) -> set[str]:
    out: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Fn::If" and isinstance(v, list) and v and isinstance(v[0], str):
                out.add(v[0])
            if k == "Condition" and isinstance(v, str):
                out.add(v)
            out |= _conditions_used(v)
    elif isinstance(node, list):
        for v in node:
            out |= _conditions_used(v)
    return out


@contextlib.contextmanager
def compat(skip: frozenset[str] = frozenset(), enable: frozenset[str] = frozenset()) -> Iterator[None]:
    """Install the patches described in the module docstring (all but
    those named in ``skip``, which the tests use to show each is needed;
    those in :data:`OPT_IN` only when named in ``enable``)."""
    skip = skip | (OPT_IN - enable)
    from moto.cloudformation import models, parsing, responses
    from moto.cloudformation.exceptions import CloudFormationError, UnformattedGetAttTemplateException
    from moto.cloudformation.utils import get_stack_from_s3_url
    from moto.elbv2 import models as elbv2_models
    from moto.kms import models as kms_models
    from moto.rds import models as rds_models
    from moto.ssm import models as ssm_models
    from moto.utilities.utils import get_partition

    saved = {
        "get_cfn_attribute": models.Stack.__dict__.get("get_cfn_attribute"),
        "update_from_cloudformation_json": models.Stack.__dict__["update_from_cloudformation_json"],
        "execute_change_set": models.CloudFormationBackend.execute_change_set,
        "diff": models.ChangeSet.diff,
        "build_resource_diff": parsing.ResourceMap.build_resource_diff,
        "clean_json": parsing.clean_json,
        "resource_class_from_type": parsing.resource_class_from_type,
        "yaml_tag_constructor": models.yaml_tag_constructor,
        "responses_yaml_tag_constructor": responses.yaml_tag_constructor,
        "rds_update": rds_models.DBInstance.__dict__.get("update_from_cloudformation_json"),
        "rds_create": rds_models.DBInstance.__dict__["create_from_cloudformation_json"],
        "ssm_create": ssm_models.Parameter.__dict__["create_from_cloudformation_json"],
        "kms_create": kms_models.Key.__dict__["create_from_cloudformation_json"],
        "tg_getatt": elbv2_models.FakeTargetGroup.__dict__.get("get_cfn_attribute"),
        "tg_has_attr": elbv2_models.FakeTargetGroup.__dict__.get("has_cfn_attr"),
        "delete_stack": models.CloudFormationBackend.delete_stack,
        "stack_outputs": models.Stack.__dict__["outputs"],
        "create_change_set": models.CloudFormationBackend.create_change_set,
        "generate_stack_id": models.generate_stack_id,
        "list_change_sets_response": responses.CloudFormationResponse.list_change_sets,
        **{
            f"backend_{m}": getattr(models.CloudFormationBackend, m)
            for m in ("delete_change_set", "describe_change_set", "list_change_sets")
        },
    }

    # 13. one stack per name: a CREATE change set reuses the REVIEW_IN_PROGRESS shell
    identity_lock = threading.Lock()

    def create_change_set(
        self,
        stack_name,
        change_set_name,
        template,
        parameters,
        description,
        change_set_type,
        notification_arns=None,
        tags=None,
        role_arn=None,
    ):
        args = (
            stack_name,
            change_set_name,
            template,
            parameters,
            description,
            change_set_type,
            notification_arns,
            tags,
            role_arn,
        )
        if change_set_type != "CREATE":
            return saved["create_change_set"](self, *args)
        live = [st for st in self.stacks.values() if st.name == stack_name and st.status != "DELETE_COMPLETE"]
        if not live:
            return saved["create_change_set"](self, *args)
        shell = live[0]
        if shell.status != "REVIEW_IN_PROGRESS":
            raise models.ValidationError(
                message=f"Stack [{stack_name}] already exists and cannot be created "
                f"again with the changeSet [{change_set_name}]."
            )
        # moto makes a new Stack for every CREATE; give it the shell's ID so
        # it takes the shell's place (self.stacks is keyed by stack ID).
        with identity_lock:
            models.generate_stack_id = lambda *a, **kw: shell.stack_id
            try:
                result = saved["create_change_set"](self, *args)
            finally:
                models.generate_stack_id = saved["generate_stack_id"]
        fresh = self.stacks[shell.stack_id]
        fresh.events = shell.events + fresh.events
        fresh.creation_time = shell.creation_time
        for cs in self.change_sets.values():
            if cs.stack is shell:
                cs.stack = fresh
        return result

    # 14. ListChangeSets answers the named stack's change sets only
    def list_change_sets_response(self):
        wanted = self._get_param("StackName")
        found = [
            cs
            for cs in self.cloudformation_backend.list_change_sets()
            if wanted == cs.stack.stack_id or (wanted == cs.stack.name and cs.stack.status != "DELETE_COMPLETE")
        ]
        return responses.ActionResult({"Summaries": found})

    # 15. a deleted change set is DELETE_PENDING, then DELETE_IN_PROGRESS, then gone
    deleting: dict[str, float] = {}  # change set ID -> when DeleteChangeSet was called

    class InvalidChangeSetStatus(CloudFormationError):
        code = "InvalidChangeSetStatus"

    def settle_deletions(backend) -> None:
        now = clock()
        for cs_id, since in list(deleting.items()):
            cs = backend.change_sets.get(cs_id)
            if cs is None:
                continue  # another region's backend holds it
            if now - since >= CHANGE_SET_DELETE_SECONDS:
                del backend.change_sets[cs_id]
                del deleting[cs_id]
            else:
                cs.status = "DELETE_PENDING" if now - since < CHANGE_SET_DELETE_SECONDS / 2 else "DELETE_IN_PROGRESS"

    def settled(name):
        def call(self, *args, **kwargs):
            settle_deletions(self)
            return saved[f"backend_{name}"](self, *args, **kwargs)

        return call

    def delete_change_set_async(self, change_set_name):
        settle_deletions(self)
        cs = saved["backend_describe_change_set"](self, change_set_name)
        if cs.change_set_id not in deleting:
            deleting[cs.change_set_id] = clock()
            cs.status, cs.execution_status = "DELETE_PENDING", "UNAVAILABLE"

    def unless_deleting(execute):
        # Wraps whichever ExecuteChangeSet is installed (piece 2's, or moto's).
        def call(self, change_set_name, stack_name=None):
            settle_deletions(self)
            cs = saved["backend_describe_change_set"](self, change_set_name)
            if cs.change_set_id in deleting:
                # InvalidChangeSetStatus (ExecuteChangeSet API reference,
                # Errors); the wording is LocalStack provider's, AWS's own
                # message for a deleting change set is not documented.
                raise InvalidChangeSetStatus(
                    f"ChangeSet [{cs.change_set_id}] cannot be executed in its current status of [{cs.status}]"
                )
            return execute(self, change_set_name, stack_name)

        return call

    # 12. DeleteStack of a change-set-made stack, and describing it after.
    def delete_stack(self, name_or_stack_id):
        stack = self.stacks.get(name_or_stack_id)
        for export in stack.exports if stack else []:
            self.exports.setdefault(export.name, export)
        return saved["delete_stack"](self, name_or_stack_id)

    def outputs_unless_deleted(self):
        return [] if self.status == "DELETE_COMPLETE" else saved["stack_outputs"].fget(self)

    # 1. GetAtt Child.Outputs.X
    def get_cfn_attribute(self, attribute_name):
        if attribute_name.startswith("Outputs."):
            key = attribute_name.split(".", 1)[1]
            out = self.output_map[key] if key in self.output_map.outputs else None
            if out is not None:
                return out.value
            raise parsing.ValidationError(message=f"Template error: stack {self.name} has no output {key}")
        raise UnformattedGetAttTemplateException()

    # 2. Outputs after ExecuteChangeSet
    def execute_change_set(self, change_set_name, stack_name=None):
        saved["execute_change_set"](self, change_set_name, stack_name)
        for stack in list(self.stacks.values()):
            if stack.template and (
                not stack.template_dict or stack.output_map is None or not list(stack.output_map.keys())
            ):
                stack._parse_template()
                stack.description = stack.template_dict.get("Description")
                stack.output_map = stack._create_output_map()

    # 3. parameter- and condition-driven changes in a diff
    def build_resource_diff(self, other_template, parameters=None):
        result = saved["build_resource_diff"](self, other_template, parameters)
        if parameters:
            changed = {p for p in parameters if self.input_parameters.get(p) != parameters[p]}
            old = self._resource_json_map
            for name, res in other_template.get("Resources", {}).items():
                if name in old and res == old[name] and name not in result["Modify"]:
                    conds = _conditions_used(res)
                    if any(_condition_params(other_template, c) & changed for c in conds):
                        result["Modify"].append(name)
        return result

    def diff(self):
        params = self.parameters if self.change_set_type == "UPDATE" else None
        actions = self.stack.resource_map.build_resource_diff(self.template_dict, params)
        old = self.stack.resource_map._resource_json_map
        changes = []
        for action, names in actions.items():
            for name in names:
                source = self.template_dict["Resources"] if action != "Remove" else old
                changes.append(
                    models.Change(action=action, logical_resource_id=name, resource_type=source[name]["Type"])
                )
        return changes

    # 4. nested stack updated in place
    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        props = cloudformation_json["Properties"]
        body = get_stack_from_s3_url(props["TemplateURL"], account_id=account_id, partition=get_partition(region_name))
        original_resource.update(body, parameters=props.get("Parameters", {}))
        return original_resource

    # 5. Fn::Cidr
    def clean_json(resource_json, resources_map):
        if isinstance(resource_json, dict) and "Fn::Cidr" in resource_json and len(resource_json) == 1:
            block, count, bits = (saved["clean_json"](v, resources_map) for v in resource_json["Fn::Cidr"])
            return fn_cidr(str(block), int(count), int(bits))
        if (
            isinstance(resource_json, dict)
            and isinstance(resource_json.get("Fn::GetAtt"), list)
            and len(resource_json["Fn::GetAtt"]) > 2
        ):
            parts = resource_json["Fn::GetAtt"]
            resource_json = dict(resource_json, **{"Fn::GetAtt": [parts[0], ".".join(parts[1:])]})
        return saved["clean_json"](resource_json, resources_map)

    # 6. stand-ins for types moto does not model
    stand_ins: dict[str, type] = {}

    def resource_class_from_type(resource_type):
        cls = saved["resource_class_from_type"](resource_type)
        if cls is None and resource_type not in parsing.NULL_MODELS and resource_type.startswith("AWS::"):
            if resource_type not in stand_ins:
                stand_ins[resource_type] = _stand_in(resource_type)
            return stand_ins[resource_type]
        return cls

    # 7. SSM parameter tags as a map
    @classmethod
    def ssm_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.get("Properties", {})
        if isinstance(props.get("Tags"), dict):
            cloudformation_json = dict(
                cloudformation_json,
                Properties=dict(props, Tags=[{"Key": k, "Value": v} for k, v in props["Tags"].items()]),
            )
        return saved["ssm_create"].__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    # 10. the target group's full name
    def tg_getatt(self, attribute_name):
        if attribute_name == "TargetGroupFullName":
            return self.arn.split(":", 5)[5]
        raise UnformattedGetAttTemplateException()

    # 11. KMS key tags in CloudFormation's spelling
    @classmethod
    def kms_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.get("Properties", {})
        if props.get("Tags"):
            cloudformation_json = dict(
                cloudformation_json,
                Properties=dict(props, Tags=[{"TagKey": t["Key"], "TagValue": t["Value"]} for t in props["Tags"]]),
            )
        return saved["kms_create"].__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    if "kms_tags" not in skip:
        kms_models.Key.create_from_cloudformation_json = kms_create
    if "target_group_name" not in skip:
        elbv2_models.FakeTargetGroup.get_cfn_attribute = tg_getatt
        elbv2_models.FakeTargetGroup.has_cfn_attr = classmethod(lambda cls, attr: attr == "TargetGroupFullName")
    if "getatt" not in skip:
        models.Stack.get_cfn_attribute = get_cfn_attribute
    if "yaml" not in skip:
        models.yaml_tag_constructor = templates_mod.construct_short_form
        responses.yaml_tag_constructor = templates_mod.construct_short_form

    # 9. RDS instance modified in place
    in_place = {
        "MultiAZ": "multi_az",
        "DBInstanceClass": "db_instance_class",
        "AllocatedStorage": "allocated_storage",
        "BackupRetentionPeriod": "backup_retention_period",
        "PreferredBackupWindow": "preferred_backup_window",
        "PreferredMaintenanceWindow": "preferred_maintenance_window",
    }

    if "deletion_protection" not in skip:
        in_place["DeletionProtection"] = "deletion_protection"

    @classmethod
    def rds_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        props = cloudformation_json.get("Properties", {})
        for prop, attr in in_place.items():
            if prop in props:
                value = props[prop]
                if prop in ("MultiAZ", "DeletionProtection"):
                    value = _true(value)
                setattr(original_resource, attr, value)
        return original_resource

    # 16. RDS deletion protection recorded, and a DeleteStack over it failing as in AWS
    @classmethod
    def rds_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        db = saved["rds_create"].__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        db.deletion_protection = _true(cloudformation_json.get("Properties", {}).get("DeletionProtection"))
        return db

    def protected_dbs(stack, above=()):
        """(the stacks above, as (stack, its nested-stack logical ID), the
        stack holding it, logical ID, instance) of each protected instance."""
        for lid, res in list(stack.resource_map._parsed_resources.items()):
            if isinstance(res, rds_models.DBInstance) and res.deletion_protection:
                yield above, stack, lid, res
            elif isinstance(res, models.Stack) and res.status != "DELETE_COMPLETE":
                yield from protected_dbs(res, above + ((stack, lid),))

    def event(stack, lid, physical_id, rtype, status, reason=None):
        stack.events.append(
            models.Event(
                stack_id=stack.stack_id,
                stack_name=stack.name,
                logical_resource_id=lid,
                physical_resource_id=physical_id,
                resource_type=rtype,
                resource_status=status,
                resource_status_reason=reason,
                resource_properties=None,
            )
        )

    def refuse_protected(delete):
        # Wraps whichever DeleteStack is installed (piece 12's, or moto's).
        def call(self, name_or_stack_id):
            stack = self.stacks.get(name_or_stack_id) or next(
                (st for st in self.stacks.values() if st.name == name_or_stack_id), None
            )
            found = list(protected_dbs(stack)) if stack is not None else []
            if not found:
                return delete(self, name_or_stack_id)
            failed: dict[str, list[str]] = {}  # stack ID -> logical IDs that failed to delete, in order
            stacks = {stack.stack_id: stack}
            stack._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
            for above, owner, lid, db in found:
                event(owner, lid, db.physical_resource_id, "AWS::RDS::DBInstance", "DELETE_FAILED", PROTECTED_DB)
                stacks[owner.stack_id] = owner
                failed.setdefault(owner.stack_id, []).append(lid)
                for parent, child_lid in above:
                    stacks[parent.stack_id] = parent
                    if child_lid not in failed.setdefault(parent.stack_id, []):
                        failed[parent.stack_id].append(child_lid)
            # Innermost first: a parent's nested-stack resource fails once its child has.
            for sid in reversed(list(stacks)):
                st = stacks[sid]
                why = f"The following resource(s) failed to delete: [{', '.join(failed[sid])}]. "
                if st is not stack:
                    st._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
                st._add_stack_event("DELETE_FAILED", resource_status_reason=why)
                st.status, st.stack_status_reason = "DELETE_FAILED", why
                for parent_sid, lids in failed.items():
                    parent = stacks[parent_sid]
                    for plid in lids:
                        if parent.resource_map._parsed_resources.get(plid) is st:
                            event(
                                parent,
                                plid,
                                st.stack_id,
                                "AWS::CloudFormation::Stack",
                                "DELETE_FAILED",
                                f"Embedded stack {st.stack_id} was not successfully deleted: {why}",
                            )
            return None

        return call

    if "rds_update" not in skip:
        rds_models.DBInstance.update_from_cloudformation_json = rds_update
    if "deletion_protection" not in skip:
        rds_models.DBInstance.create_from_cloudformation_json = rds_create
    if "ssm_tags" not in skip:
        ssm_models.Parameter.create_from_cloudformation_json = ssm_create
    if "unmodelled" not in skip:
        parsing.resource_class_from_type = resource_class_from_type
    if "cidr" not in skip:
        parsing.clean_json = clean_json
    if "nested_update" not in skip:
        models.Stack.update_from_cloudformation_json = update_from_cloudformation_json
    if "outputs" not in skip:
        models.CloudFormationBackend.execute_change_set = execute_change_set
    if "parameters" not in skip:
        models.ChangeSet.diff = diff
        parsing.ResourceMap.build_resource_diff = build_resource_diff
    if "stack_identity" not in skip:
        models.CloudFormationBackend.create_change_set = create_change_set
    if "delete" not in skip:
        models.CloudFormationBackend.delete_stack = delete_stack
        models.Stack.outputs = property(outputs_unless_deleted)
    if "deletion_protection" not in skip:
        models.CloudFormationBackend.delete_stack = refuse_protected(models.CloudFormationBackend.delete_stack)
    if "list_by_stack" not in skip:
        responses.CloudFormationResponse.list_change_sets = list_change_sets_response
    if "async_delete" not in skip:
        models.CloudFormationBackend.delete_change_set = delete_change_set_async
        models.CloudFormationBackend.execute_change_set = unless_deleting(
            models.CloudFormationBackend.execute_change_set
        )
        models.CloudFormationBackend.describe_change_set = settled("describe_change_set")
        models.CloudFormationBackend.list_change_sets = settled("list_change_sets")
    answer = contextlib.ExitStack()
    if "target_answer" not in skip:
        answer.enter_context(answering_target())
    try:
        yield
    finally:
        answer.close()
        if saved["get_cfn_attribute"] is None:
            if "get_cfn_attribute" in models.Stack.__dict__:
                delattr(models.Stack, "get_cfn_attribute")
        else:
            models.Stack.get_cfn_attribute = saved["get_cfn_attribute"]
        models.Stack.update_from_cloudformation_json = saved["update_from_cloudformation_json"]
        models.CloudFormationBackend.execute_change_set = saved["execute_change_set"]
        for m in ("delete_change_set", "describe_change_set", "list_change_sets"):
            setattr(models.CloudFormationBackend, m, saved[f"backend_{m}"])
        responses.CloudFormationResponse.list_change_sets = saved["list_change_sets_response"]
        models.CloudFormationBackend.delete_stack = saved["delete_stack"]
        models.CloudFormationBackend.create_change_set = saved["create_change_set"]
        models.generate_stack_id = saved["generate_stack_id"]
        models.Stack.outputs = saved["stack_outputs"]
        models.ChangeSet.diff = saved["diff"]
        parsing.ResourceMap.build_resource_diff = saved["build_resource_diff"]
        parsing.clean_json = saved["clean_json"]
        ssm_models.Parameter.create_from_cloudformation_json = saved["ssm_create"]
        models.yaml_tag_constructor = saved["yaml_tag_constructor"]
        responses.yaml_tag_constructor = saved["responses_yaml_tag_constructor"]
        if saved["rds_update"] is None:
            if "update_from_cloudformation_json" in rds_models.DBInstance.__dict__:
                delattr(rds_models.DBInstance, "update_from_cloudformation_json")
        else:
            rds_models.DBInstance.update_from_cloudformation_json = saved["rds_update"]
        parsing.resource_class_from_type = saved["resource_class_from_type"]
        rds_models.DBInstance.create_from_cloudformation_json = saved["rds_create"]
        kms_models.Key.create_from_cloudformation_json = saved["kms_create"]
        for name in ("tg_getatt", "tg_has_attr"):
            attr = {"tg_getatt": "get_cfn_attribute", "tg_has_attr": "has_cfn_attr"}[name]
            if saved[name] is None:
                if attr in elbv2_models.FakeTargetGroup.__dict__:
                    delattr(elbv2_models.FakeTargetGroup, attr)
            else:
                setattr(elbv2_models.FakeTargetGroup, attr, saved[name])


# DeleteDBInstance's answer for a protected instance, as AWS words it
# (InvalidParameterCombination; see piece 16).
PROTECTED_DB = "Cannot delete protected DB Instance, please disable deletion protection and try again."


def _true(value) -> bool:
    """A CloudFormation boolean: true, or the string "true" a parameter passes."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _stand_in(resource_type: str) -> type:
    """A moto model that creates nothing and names itself as unmodelled."""
    from moto.core.common_models import CloudFormationModel

    class StandIn(CloudFormationModel):
        def __init__(self, name: str):
            self.name = name

        @staticmethod
        def cloudformation_type() -> str:
            return resource_type

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return True

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            return cls(resource_name)

        @classmethod
        def update_from_cloudformation_json(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        ):
            return original_resource

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
            return None

        def delete(self, account_id, region_name):
            return None

        @property
        def physical_resource_id(self) -> str:
            return f"unmodelled:{resource_type}:{self.name}"

        def get_cfn_attribute(self, attribute_name: str) -> str:
            return f"unmodelled:{resource_type}:{self.name}:{attribute_name}"

    StandIn.__name__ = "StandIn_" + resource_type.replace("::", "_")
    return StandIn


def fn_cidr(block: str, count: int, bits: int) -> list[str]:
    """``Fn::Cidr``: the first ``count`` subnets with ``bits`` host bits."""
    net = ipaddress.ip_network(block, strict=False)
    prefix = net.max_prefixlen - bits
    return [str(n) for n in itertools.islice(net.subnets(new_prefix=prefix), count)]


def dynamic_references(texts: list[str], values: dict[str, str]) -> list[tuple[str, str]]:
    """(kind, name) of every SSM dynamic reference in the templates, with
    ``${Project}``-style parameters substituted from ``values`` first (their
    braces would otherwise end the reference early)."""
    out = []
    for text in texts:
        for k, v in values.items():
            text = text.replace("${%s}" % k, v)
        for kind, name, _version in DYNAMIC_REFERENCE.findall(text):
            if (kind, name) not in out:
                out.append((kind, name))
    return out


def seed_ssm(aws, templates_dir: Path, values: dict[str, str]) -> list[str]:
    """Create placeholder SSM parameters for the dynamic references of the
    templates in ``templates_dir`` (the root and what it nests), where missing.
    For tests that drive a bare endpoint (``--endpoint-url``); ``deploy
    --local`` never does this: preflight stops it until ``bootstrap --local``
    has made the real ones, and a one-shot deploy runs bootstrap itself."""
    ssm = aws.client("ssm")
    made = []
    # The raw texts are enough to find the references (no YAML parse: this runs on every --local command).
    texts = [p.read_text() for p in sorted(Path(templates_dir).glob("*.yaml"))]
    for kind, name in dynamic_references(texts, values):
        try:
            ssm.get_parameter(Name=name)
            continue
        except ssm.exceptions.ParameterNotFound:
            pass
        ssm.put_parameter(Name=name, Value=PLACEHOLDER, Type="SecureString" if kind == "ssm-secure" else "String")
        made.append(name)
    return made


@contextlib.contextmanager
def endpoint() -> Iterator[str]:
    """moto's server on 127.0.0.1 in this process, compat installed; yields
    the endpoint URL (``localhost``: moto reads a 127.0.0.1 host in a
    TemplateURL as a bucket name)."""
    import logging

    from moto.server import ThreadedMotoServer

    # The server's access log and moto's "no CloudFormation support"
    # warnings would drown the deploy's own output.
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    logging.getLogger("moto").setLevel(logging.ERROR)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        # The strict layer: what AWS refuses, the rehearsal refuses too.
        with compat(), strict.install():
            yield f"http://localhost:{port}"
    finally:
        server.stop()
