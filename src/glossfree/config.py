"""Typed configuration: pydantic models with strict keys, YAML loading with clear errors.

Every config section is a :class:`StrictModel`: unknown keys are rejected and the error names the
file and the dotted key, and lists the valid keys. Defaults are paper scale; ``tiny.yaml`` files
only override them. Parts are chosen by a ``kind:`` literal looked up in one explicit dict in the
module that builds them, never by an import string.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from glossfree.errors import ConfigError

T = TypeVar("T", bound="StrictModel")


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are an error, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


def _valid_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """Walk ``loc`` through nested model fields and return the valid keys at the last level.

    A discriminated union puts its tag in the location (``compressor.none.window``): the walk then
    steps into the member whose ``kind`` is that tag.
    """
    candidates: list[type[BaseModel]] = [model]
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        by_kind = {_kind_of(m): m for m in candidates}
        if part in by_kind and len(candidates) > 1:
            candidates = [by_kind[part]]
            continue
        fields = candidates[0].model_fields if len(candidates) == 1 else {}
        if part not in fields:
            return None
        candidates = _models_in(fields[part].annotation)
        if not candidates:
            return None
    if len(candidates) != 1:
        return None
    return sorted(candidates[0].model_fields)


def _kind_of(model: type[BaseModel]) -> Any:
    field = model.model_fields.get("kind")
    return field.default if field is not None else None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (itself, union members, list/dict items)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found += [m for m in _models_in(arg) if m not in found]
    return found


def _blame(loc: tuple[Any, ...], source: str, overrides: list[str]) -> str:
    """Who gave the value at ``loc``: ``--set KEY=VALUE`` when the error lies at or under an
    override's key; ``source with --set ...`` when a check of a whole section fails and overrides
    changed keys inside it; else ``source``.

    Discriminated unions add their tag to the location (``model.compressor.none.window`` for the
    override ``model.compressor.window``): location parts that do not match are skipped.
    """
    parts = [str(p) for p in loc]
    inside = []
    for item in reversed(overrides):  # the last override of a key is the one that counts
        key = item.split("=", 1)[0].strip().split(".")
        if key[: len(parts)] == parts and len(key) > len(parts):
            inside.insert(0, item)
        if not parts or parts[0] != key[0]:
            continue
        matched = 0
        for part in parts:
            if matched < len(key) and part == key[matched]:
                matched += 1
        if matched == len(key):
            return f"--set {item}"
    if inside:
        return f"{source} with " + ", ".join(f"--set {item}" for item in inside)
    return source


def format_validation_error(
    error: ValidationError, model: type[BaseModel], source: str, overrides: list[str] | None = None
) -> str:
    """Turn a pydantic error into lines of ``source: key.path: message`` (with valid keys listed).

    An error in a value given by an override names the override (``--set a.b=x``), not ``source``.
    """
    lines = []
    for item in error.errors():
        loc = tuple(item["loc"])
        dotted, tag = _user_path(model, loc)
        kind = f" (kind '{tag}')" if tag else ""
        blamed = _blame(loc, source, overrides or [])
        if item["type"] == "extra_forbidden":
            valid = _valid_keys(model, loc)
            hint = f"; valid keys: {', '.join(valid)}" if valid else ""
            lines.append(f"{blamed}: unknown key '{dotted}'{kind}{hint}")
        else:
            value = item.get("input")
            got = "" if isinstance(value, (dict, list)) else f" (got {value!r})"  # a whole section: too long
            lines.append(f"{blamed}: {dotted}{kind}: {item['msg']}{got}")
    return "\n".join(lines)


def _user_path(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[str, str | None]:
    """The dotted key as the user wrote it, without the tags that discriminated unions add to the
    location (``compressor.none.window`` -> ``compressor.window``), and the last such tag."""
    parts: list[str] = []
    tag = None
    candidates: list[type[BaseModel]] = [model]
    for part in loc:
        if isinstance(part, int):
            parts.append(str(part))
            continue
        by_kind = {_kind_of(m): m for m in candidates}
        if len(candidates) > 1 and part in by_kind:
            candidates, tag = [by_kind[part]], str(part)
            continue
        parts.append(str(part))
        fields = candidates[0].model_fields if len(candidates) == 1 else {}
        candidates = _models_in(fields[part].annotation) if part in fields else []
    return ".".join(parts) or "<root>", tag


def validate(model: type[T], data: Any, source: str = "<config>", overrides: list[str] | None = None) -> T:
    """Validate ``data`` against ``model``; raise :class:`ConfigError` naming ``source`` (or the
    override at fault) and keys."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, model, source, overrides)) from None


def resolve_config_file(path: str | Path, builtin_dir: Path, what: str) -> Path:
    """``path`` when it is a file, else the built-in ``<builtin_dir>/<path>.yaml`` (a name such as
    ``spamo/tiny``); a :class:`ConfigError` listing the built-in ``what`` files when neither exists."""
    candidate = Path(path)
    if candidate.is_file():
        return candidate
    builtin = builtin_dir / f"{str(path).removesuffix('.yaml')}.yaml"
    if builtin.is_file():
        return builtin
    names = sorted(str(p.relative_to(builtin_dir).with_suffix("")) for p in builtin_dir.rglob("*.yaml"))
    raise ConfigError(f"{path}: no such {what} file; built-in {what}s: {', '.join(names) or 'none'}")


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides (value parsed as YAML) to a nested dict, returning a copy."""
    import copy

    out = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' must look like key.path=value")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as error:
            reason = str(error).splitlines()[0]
            raise ConfigError(f"--set {item}: the value is not valid YAML ({reason})") from None
        parts = key.strip().split(".")
        node: Any = out
        for part in parts[:-1]:
            node = _child(node, part, item)
        last = parts[-1]
        if isinstance(node, list):
            node[_index(node, last, item)] = value
        else:
            node[last] = value
    return out


def _index(node: list, part: str, item: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"override '{item}': '{part}' is not an index of a list of {len(node)}")
    return int(part)


def _child(node: Any, part: str, item: str) -> Any:
    if isinstance(node, list):
        child = node[_index(node, part, item)]
    else:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
    if not isinstance(child, (dict, list)):
        raise ConfigError(f"override '{item}': '{part}' is not a section")
    return child


def load_config(model: type[T], path: str | Path, overrides: list[str] | None = None) -> T:
    """Load and validate a YAML config file, with optional dotted ``key=value`` overrides."""
    data = apply_overrides(read_yaml(path), overrides or [])
    return validate(model, data, source=str(path), overrides=overrides)
