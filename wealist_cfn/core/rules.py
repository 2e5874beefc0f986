"""The documented value rules of the AWS services this project writes to,
as plain functions: Parameter Store's name and value rules, and the values
RDS and ElastiCache read from it. Bootstrap checks its values with them
before it writes anything; the rehearsal's strict layer
(:mod:`wealist_cfn.rehearsal.strict`) applies the same functions to what
moto is asked to store. Standard library only. Each rule sits beside the
API reference it quotes.
"""

from __future__ import annotations

import re

# -- Parameter Store ------------------------------------------------------------
# https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html

# "Standard parameters have a value limit of 4 KB. Advanced parameters have a
# value limit of 8 KB." Intelligent-Tiering stores up to 8 KB (as Advanced
# above 4 KB).
TIER_LIMITS = {"Standard": 4096, "Advanced": 8192, "Intelligent-Tiering": 8192}
# "The maximum length for a parameter name that you create is 1011 characters."
NAME_MAX = 1011
# "Parameter hierarchies are limited to a maximum depth of fifteen levels."
MAX_DEPTH = 15
# "Parameter names can include only the following symbols and letters:
# a-zA-Z0-9_.- In addition, the slash character ( / ) is used to delineate
# hierarchies in parameter names."
NAME_CHARS = re.compile(r"^[A-Za-z0-9_./-]+$")
# "You can't include values wrapped in double brackets {{}} or
# {{ssm:parameter-name}} in a parameter value."
NESTED = re.compile(r"\{\{.*?\}\}", re.S)
# The project's rule (SPEC, and the SSM user guide's advice on sensitive
# data): a password, token or secret is stored encrypted, as SecureString.
SECRET_WORDS = re.compile(r"(password|passwd|token|secret)", re.I)
# "Description: Length Constraints: Minimum length of 0. Maximum length of 1024."
DESCRIPTION_MAX = 1024


def parameter_name_problem(name: str) -> str | None:
    """Why Parameter Store refuses ``name``, or None."""
    if not name or len(name) > NAME_MAX:
        return f"a name is 1 to {NAME_MAX} characters (PutParameter Name)"
    if not NAME_CHARS.match(name):
        return "a name holds only a-z A-Z 0-9 _ . - and / (PutParameter Name)"
    if "/" in name and not name.startswith("/"):
        return "a hierarchical name starts with / (PutParameter Name)"
    parts = name.strip("/").split("/")
    if any(not part for part in parts):
        return "a name has no empty hierarchy level (PutParameter Name)"
    if parts[0].lower().startswith(("aws", "ssm")):
        return "a name may not begin with aws or ssm, in any case (PutParameter Name)"
    if len(parts) > MAX_DEPTH:
        return f"a name has at most {MAX_DEPTH} hierarchy levels (PutParameter Name)"
    return None


def parameter_value_problem(name: str, value: str, type_: str = "String", tier: str | None = None) -> str | None:
    """Why Parameter Store refuses ``value`` for ``name`` (or the project
    does, for a secret stored as plain String), or None."""
    if value is None or value == "":
        return "a value is at least 1 character (PutParameter Value)"
    found = NESTED.search(value)
    if found:
        return f"a value may not contain {{{{ }}}} (PutParameter Value), found {found.group(0)[:40]!r}"
    tier = tier or "Standard"
    limit = TIER_LIMITS.get(tier)
    if limit is None:
        return f"tier {tier!r} is not one of {', '.join(TIER_LIMITS)} (PutParameter Tier)"
    size = len(value.encode("utf-8"))
    if size > limit:
        return f"{size} bytes exceed the {tier} tier's {limit} (PutParameter Value)"
    if type_ not in ("String", "StringList", "SecureString"):
        return f"type {type_!r} is not String, StringList or SecureString (PutParameter Type)"
    if type_ != "SecureString" and SECRET_WORDS.search(name.rsplit("/", 1)[-1]):
        return "a secret is stored as SecureString, never in plain text (project rule)"
    return None


def parameter_problem(
    name: str, value: str, type_: str = "String", tier: str | None = None, description: str | None = None
) -> str | None:
    """The first rule a PutParameter of these arguments breaks, or None."""
    if description is not None and len(description) > DESCRIPTION_MAX:
        return f"a description is at most {DESCRIPTION_MAX} characters (PutParameter Description)"
    return parameter_name_problem(name) or parameter_value_problem(name, value, type_, tier)


# -- Values other services read from Parameter Store ---------------------------------
# The templates hand these to RDS and ElastiCache through {{resolve:ssm-secure}};
# a value those services refuse fails the stack deep inside a nested update.

# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm.html
# "{{resolve:ssm:parameter-name:version}}", "{{resolve:ssm-secure:parameter-name:version}}":
# the kind, the name and the optional version, the one pattern every reader uses.
DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:(ssm|ssm-secure):([^}:]+)(?::(\d+))?\}\}")


# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html
# MasterUserPassword (RDS for PostgreSQL): "Must contain from 8 to 128
# characters." "Can include any printable ASCII character except "/", """,
# or "@". Can't contain spaces."
def rds_master_password_problem(value: str) -> str | None:
    if not 8 <= len(value) <= 128:
        return "an RDS master password is 8 to 128 characters (CreateDBInstance MasterUserPassword)"
    if any(not (33 <= ord(c) <= 126) or c in '/"@' for c in value):
        return 'an RDS master password is printable ASCII without / " @ or spaces (CreateDBInstance MasterUserPassword)'
    return None


# MasterUsername (RDS for PostgreSQL): "Must be 1 to 63 letters or numbers."
# "First character must be a letter." "Can't be a reserved word for the
# chosen database engine."
def rds_master_username_problem(value: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,62}", value or ""):
        return (
            "an RDS master user name is 1 to 63 letters, digits or _, starting with a letter "
            "(CreateDBInstance MasterUsername)"
        )
    if value.lower() in ("postgres", "rdsadmin", "rds_superuser", "public", "user", "all"):
        return f"{value!r} is reserved for RDS for PostgreSQL (CreateDBInstance MasterUsername)"
    return None


# https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html
# AuthToken: "Must be only printable ASCII characters." "Must be at least 16
# characters and no more than 128 characters in length." "The only permitted
# printable special characters are !, &, #, $, ^, <, >, and -."
def elasticache_auth_token_problem(value: str) -> str | None:
    if not 16 <= len(value) <= 128:
        return "an ElastiCache AUTH token is 16 to 128 characters (CreateReplicationGroup AuthToken)"
    if not re.fullmatch(r"[A-Za-z0-9!&#$^<>-]+", value):
        return (
            "an ElastiCache AUTH token holds letters, digits and ! & # $ ^ < > - only "
            "(CreateReplicationGroup AuthToken)"
        )
    return None
