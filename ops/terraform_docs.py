"""Render the Terraform provider's reference from its schema, as tfplugindocs would.

``python ops/terraform_docs.py SCHEMA_JSON OUT_DIR`` reads what
``tofu providers schema -json`` printed and writes ``index.md``,
``resources/NAME.md`` and ``data-sources/NAME.md``. The schema's descriptions are the
only source, so the reference cannot drift from the provider; a test renders it from
the built provider and compares it with the checked-in ``terraform/docs``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PROVIDER = "granary"


def _type_name(attribute: dict[str, Any]) -> str:
    if "nested_type" in attribute:
        return "Attributes"
    kind = attribute["type"]
    if isinstance(kind, list):  # ["set", "string"]
        return f"{kind[0].capitalize()} of {kind[1].capitalize()}"
    return kind.capitalize()


def _group(attribute: dict[str, Any]) -> str:
    if attribute.get("required"):
        return "Required"
    if attribute.get("optional"):
        return "Optional"
    return "Read-Only"


def _attributes(attributes: dict[str, Any], anchor: str) -> list[str]:
    """The attributes as tfplugindocs lists them: Required, Optional, Read-Only; nested
    attributes in a section of their own below."""
    lines: list[str] = []
    nested: list[tuple[str, dict[str, Any]]] = []
    for group in ("Required", "Optional", "Read-Only"):
        names = sorted(n for n, a in attributes.items() if _group(a) == group)
        if not names:
            continue
        lines += [f"### {group}", ""]
        for name in names:
            attribute = attributes[name]
            sensitive = ", Sensitive" if attribute.get("sensitive") else ""
            description = attribute.get("description", "").strip()
            if "nested_type" in attribute:
                description += f" (see [below for nested schema](#nestedatt--{anchor}{name}))"
                nested.append((name, attribute["nested_type"]["attributes"]))
            lines.append(f"- `{name}` ({_type_name(attribute)}{sensitive}) {description}".rstrip())
        lines.append("")
    for name, inner in nested:
        lines += [f'<a id="nestedatt--{anchor}{name}"></a>', f"### Nested Schema for `{name}`", ""]
        lines += [line.replace("### ", "#### ", 1) for line in _attributes(inner, f"{anchor}{name}--")]
    return lines


def _page(kind: str, name: str, schema: dict[str, Any]) -> str:
    block = schema["block"]
    lines = [f"# {name} ({kind})", "", block.get("description", "").strip(), "", "## Schema", ""]
    lines += _attributes(block.get("attributes", {}), "")
    return "\n".join(lines).rstrip() + "\n"


def render(schema_json: dict[str, Any]) -> dict[str, str]:
    """The reference pages by relative path."""
    (provider,) = (s for addr, s in schema_json["provider_schemas"].items() if addr.endswith(f"/{PROVIDER}"))
    pages = {"index.md": _page("Provider", PROVIDER, provider["provider"])}
    for name, schema in sorted(provider.get("resource_schemas", {}).items()):
        pages[f"resources/{name.removeprefix(PROVIDER + '_')}.md"] = _page("Resource", name, schema)
    for name, schema in sorted(provider.get("data_source_schemas", {}).items()):
        pages[f"data-sources/{name.removeprefix(PROVIDER + '_')}.md"] = _page("Data Source", name, schema)
    return pages


def main(argv: list[str]) -> None:
    schema_path, out = Path(argv[0]), Path(argv[1])
    for relative, text in render(json.loads(schema_path.read_text())).items():
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1:])
