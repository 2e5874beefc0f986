"""Read the generated templates (YAML with CloudFormation's short-form tags)
into plain long-form data, and find the nested stacks a template declares."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import yaml

from wealist_cfn.cfn.model import NESTED


class _CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when built with it: 10x faster
    """SafeLoader (C or Python) that turns ``!Ref x`` into ``{"Ref": "x"}`` and ``!Sub``,
    ``!GetAtt A.B`` ... into their ``Fn::`` long forms."""


def construct_short_form(loader, tag: str, node: yaml.Node):
    """A multi-constructor for the tag prefix ``""`` (tag with its ``!``)."""
    return _construct(loader, tag[1:] if tag.startswith("!") else tag, node)


def _construct(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node):
    name = "Ref" if tag_suffix == "Ref" else ("Condition" if tag_suffix == "Condition" else f"Fn::{tag_suffix}")
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct)


# Parsed templates by their text, pickled. One deploy reads the same nine
# templates a dozen times (packaging, preflight, the cost of both modes, the
# review): each text is parsed once, and every caller gets its own copy (a
# pickle round trip is some 50 times cheaper than the parse), so what one
# caller changes in it no other sees.
_PARSED: dict[str, bytes] = {}


def load(text: str) -> dict:
    """Parse a template (YAML or JSON) into long-form data (a fresh copy each call)."""
    cached = _PARSED.get(text)
    if cached is not None:
        return pickle.loads(cached)  # noqa: S301 - bytes this process pickled itself
    data = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict):
        raise ValueError("a template must be a mapping")
    _PARSED[text] = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    return data


def dump(data: dict) -> str:
    """Long-form YAML that CloudFormation reads; key order kept."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=120)


def nested_stacks(template: dict) -> dict[str, dict]:
    """Logical ID -> properties of each nested stack resource."""
    return {
        lid: res.get("Properties", {})
        for lid, res in (template.get("Resources") or {}).items()
        if res.get("Type") == NESTED
    }


def is_local_url(url) -> bool:
    return isinstance(url, str) and "://" not in url


@dataclass(frozen=True)
class TemplateSet:
    """The root template and the files it references, as read from disk."""

    directory: Path
    root_name: str
    texts: dict[str, str]  # filename -> text, root included

    @property
    def root_text(self) -> str:
        return self.texts[self.root_name]

    def parsed(self, name: str) -> dict:
        return load(self.texts[name])


def read(directory: Path, root_name: str = "root.yaml") -> TemplateSet:
    """Read the root and, recursively, every child it names by a relative
    TemplateURL. A missing file is an error naming the file and the resource."""
    from wealist_cfn.errors import EXIT_USAGE, CommandError

    texts: dict[str, str] = {}

    def visit(name: str, referrer: str | None):
        if name in texts:
            return
        path = directory / name
        try:
            texts[name] = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            where = f" (TemplateURL in {referrer})" if referrer else ""
            hint = "; run `python build.py` to generate the templates" if referrer is None else ""
            raise CommandError(f"{path}: no such template{where}{hint}", EXIT_USAGE) from None
        try:
            data = load(texts[name])
        except (yaml.YAMLError, ValueError) as exc:
            raise CommandError(f"{path}: not a readable template: {exc}", EXIT_USAGE) from None
        for lid, props in nested_stacks(data).items():
            url = props.get("TemplateURL")
            if is_local_url(url):
                visit(url, f"{name} {lid}")

    visit(root_name, None)
    return TemplateSet(directory=directory, root_name=root_name, texts=texts)
