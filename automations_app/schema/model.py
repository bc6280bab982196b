"""A small validator for JSON documents that answers what the 2.20 server answers.

The reference parses automations with pydantic 1 models whose unions are tried member
by member; a document that fits no member gets the errors of every member, in order.
Clients and the dashboard read those lists, so the documents here are described as
:class:`Model` objects (fields in the reference's order, field checks, whole-object
checks) and validated by the same procedure: each field in turn, then the extra keys,
then the whole-object checks (those marked ``skip_on_failure`` only when the fields
passed). Each error is ``{"loc", "msg", "type", "ctx"?}`` with ``loc`` relative to the
document.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Loc = tuple[str | int, ...]
Error = dict[str, Any]
MISSING: Any = object()


class Invalid(Exception):
    """Raised by a check with the errors it found."""

    def __init__(self, errors: list[Error]) -> None:
        super().__init__(errors)
        self.errors = errors


def error(loc: Loc, msg: str, kind: str, ctx: dict[str, Any] | None = None) -> Error:
    found: Error = {"loc": list(loc), "msg": msg, "type": kind}
    if ctx is not None:
        found["ctx"] = ctx
    return found


# A kind checks one value at ``loc`` and returns it converted, or raises Invalid.
Kind = Callable[[Any, Loc], Any]


def string(value: Any, loc: Loc) -> str:
    """Text; numbers are written as text (the reference coerces them)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    raise Invalid([error(loc, "str type expected", "type_error.str")])


def integer(value: Any, loc: Loc) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise Invalid([error(loc, "value is not a valid integer", "type_error.integer")]) from None


_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def boolean(value: Any, loc: Loc) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise Invalid([error(loc, "value could not be parsed to a boolean", "type_error.bool")])


def uuid_text(value: Any, loc: Loc) -> str:
    """A UUID, answered in its canonical text form."""
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) else str(uuid.UUID(bytes=value))
    except (TypeError, ValueError, AttributeError):
        raise Invalid([error(loc, "value is not a valid uuid", "type_error.uuid")]) from None


def json_object(value: Any, loc: Loc) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise Invalid([error(loc, "value is not a valid dict", "type_error.dict")])


def described(kind: Kind, schema: dict[str, Any]) -> Kind:
    """Attach the OpenAPI schema of what a kind accepts (read by :func:`schema_of`)."""
    kind.openapi = schema  # type: ignore[attr-defined]
    return kind


def schema_of(kind: Kind) -> dict[str, Any]:
    return dict(getattr(kind, "openapi", {}))


described(string, {"type": "string"})
described(integer, {"type": "integer"})
described(boolean, {"type": "boolean"})
described(uuid_text, {"type": "string", "format": "uuid"})
described(json_object, {"type": "object", "additionalProperties": {}})


# "[-]D days, HH:MM:SS[.ffffff]" style and ISO 8601 ("P1DT2H", "PT30S").
_CLOCK = re.compile(
    r"^(?:(?P<days>-?\d+) (?:days?, )?)?(?:(?P<hours>-?\d+):(?=\d+:\d+))?(?:(?P<minutes>-?\d+):)?"
    r"(?P<seconds>-?\d+)(?:\.(?P<microseconds>\d{1,6})\d{0,6})?$"
)
_ISO = re.compile(
    r"^(?P<sign>[-+]?)P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def duration(value: Any, loc: Loc) -> dt.timedelta:
    """Seconds as a number, a clock-style string or an ISO 8601 duration."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = f"{value:f}"
    if not isinstance(value, str):
        msg = "invalid type; expected timedelta, string, bytes, int or float"
        raise Invalid([error(loc, msg, "type_error")])
    match = _CLOCK.match(value) or _ISO.match(value)
    if match is None:
        raise Invalid([error(loc, "invalid duration format", "value_error.duration")])
    parts = match.groupdict()
    sign = -1 if parts.pop("sign", "+") == "-" else 1
    if parts.get("microseconds"):
        parts["microseconds"] = parts["microseconds"].ljust(6, "0")
        if (parts.get("seconds") or "").startswith("-"):
            parts["microseconds"] = "-" + parts["microseconds"]
    return sign * dt.timedelta(**{key: float(part) for key, part in parts.items() if part is not None})


described(duration, {"type": "number", "description": "Seconds (or an ISO 8601 duration)."})


def constant(*permitted: str, shown: str | None = None) -> Kind:
    """One of the given strings (a ``Literal`` in the reference)."""

    def check(value: Any, loc: Loc) -> str:
        if isinstance(value, str) and value in permitted:
            return value
        listed = shown if shown is not None else ", ".join(repr(item) for item in permitted)
        ctx = {"given": value, "permitted": list(permitted)}
        raise Invalid([error(loc, f"unexpected value; permitted: {listed}", "value_error.const", ctx)])

    return described(check, {"type": "string", "enum": list(permitted)})


def enumeration(values: Sequence[str]) -> Kind:
    def check(value: Any, loc: Loc) -> str:
        if isinstance(value, str) and value in values:
            return value
        listed = ", ".join(repr(item) for item in values)
        msg = f"value is not a valid enumeration member; permitted: {listed}"
        raise Invalid([error(loc, msg, "type_error.enum", {"enum_values": list(values)})])

    return described(check, {"type": "string", "enum": list(values)})


def list_of(item: Kind) -> Kind:
    def check(value: Any, loc: Loc) -> list[Any]:
        if not isinstance(value, list):
            raise Invalid([error(loc, "value is not a valid list", "type_error.list")])
        return _items(value, loc, item)

    return described(check, {"type": "array", "items": schema_of(item)})


def set_of(item: Kind) -> Kind:
    """A set in the reference: a list whose repeated items are dropped (first kept)."""

    def check(value: Any, loc: Loc) -> list[Any]:
        if not isinstance(value, list):
            raise Invalid([error(loc, "value is not a valid set", "type_error.set")])
        return list(dict.fromkeys(_items(value, loc, item)))

    return described(check, {"type": "array", "items": schema_of(item), "uniqueItems": True})


def _items(values: list[Any], loc: Loc, item: Kind) -> list[Any]:
    found: list[Any] = []
    errors: list[Error] = []
    for index, value in enumerate(values):
        try:
            found.append(nullable_check(item, value, (*loc, index)))
        except Invalid as problem:
            errors.extend(problem.errors)
    if errors:
        raise Invalid(errors)
    return found


def dict_of(value_kind: Kind) -> Kind:
    def check(value: Any, loc: Loc) -> dict[str, Any]:
        value = json_object(value, loc)
        found: dict[str, Any] = {}
        errors: list[Error] = []
        for key, item in value.items():
            try:
                found[key] = nullable_check(value_kind, item, (*loc, key))
            except Invalid as problem:
                errors.extend(problem.errors)
        if errors:
            raise Invalid(errors)
        return found

    return described(check, {"type": "object", "additionalProperties": schema_of(value_kind)})


def nullable_check(kind: Kind, value: Any, loc: Loc) -> Any:
    if value is None:
        raise Invalid([error(loc, "none is not an allowed value", "type_error.none.not_allowed")])
    return kind(value, loc)


def one_of(*kinds: Kind) -> Kind:
    """The first kind that accepts the value; if none does, the errors of all of them."""

    def check(value: Any, loc: Loc) -> Any:
        errors: list[Error] = []
        for kind in kinds:
            try:
                return kind(value, loc)
            except Invalid as problem:
                errors.extend(problem.errors)
        raise Invalid(errors)

    return described(check, {"anyOf": [schema_of(kind) for kind in kinds]})


@dataclass(frozen=True)
class Field:
    """One field: its kind, whether it may be null, its default (``MISSING``: required)
    and checks run on the converted value (never on the default)."""

    name: str
    kind: Kind
    default: Any = MISSING
    nullable: bool = False
    checks: tuple[Callable[[Any], Any], ...] = ()
    # Runs on the raw value first (the reference accepts an old shape and converts it).
    before: Callable[[Any], Any] | None = None
    schema: dict[str, Any] = field(default_factory=dict)

    def initial(self) -> Any:
        return self.default() if callable(self.default) else self.default


@dataclass(frozen=True)
class Model:
    """A document kind: its fields in order, extra keys forbidden or ignored, and its
    whole-object checks as ``(check, skip_on_failure)``; a check takes the converted
    values and returns them (possibly changed) or raises ``ValueError``."""

    name: str
    fields: tuple[Field, ...]
    forbid_extra: bool = False
    checks: tuple[tuple[Callable[[dict[str, Any]], dict[str, Any]], bool], ...] = ()

    @property
    def openapi(self) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{self.name}"}

    def component(self) -> dict[str, Any]:
        """This kind's OpenAPI schema (for the components of the API document)."""
        properties = {}
        for spec in self.fields:
            prop = {**schema_of(spec.kind), **spec.schema}
            if spec.nullable:
                prop["nullable"] = True
            if spec.default is not MISSING and not callable(spec.default):
                prop["default"] = spec.default
            properties[spec.name] = prop
        required = [spec.name for spec in self.fields if spec.default is MISSING and not spec.nullable]
        body: dict[str, Any] = {"type": "object", "title": self.name, "properties": properties}
        if required:
            body["required"] = required
        if self.forbid_extra:
            body["additionalProperties"] = False
        return body

    def __call__(self, value: Any, loc: Loc) -> dict[str, Any]:
        data = json_object(value, loc)
        values: dict[str, Any] = {}
        errors: list[Error] = []
        for spec in self.fields:
            raw = data.get(spec.name, MISSING)
            if raw is MISSING:
                if spec.default is MISSING and not spec.nullable:
                    errors.append(error((*loc, spec.name), "field required", "value_error.missing"))
                else:
                    values[spec.name] = spec.initial() if spec.default is not MISSING else None
                continue
            try:
                values[spec.name] = _field_value(spec, raw, (*loc, spec.name))
            except Invalid as problem:
                errors.extend(problem.errors)
        if self.forbid_extra:
            known = {spec.name for spec in self.fields}
            for key in data:
                if key not in known:
                    errors.append(error((*loc, key), "extra fields not permitted", "value_error.extra"))
        for check, skip_on_failure in self.checks:
            if skip_on_failure and errors:
                continue
            try:
                values = check(values)
            except ValueError as problem:
                errors.append(error((*loc, "__root__"), str(problem), "value_error"))
        if errors:
            raise Invalid(errors)
        return values


def _field_value(spec: Field, raw: Any, loc: Loc) -> Any:
    if spec.before is not None:
        raw = spec.before(raw)
    if raw is None:
        if spec.nullable:
            return None
        raise Invalid([error(loc, "none is not an allowed value", "type_error.none.not_allowed")])
    value = spec.kind(raw, loc)
    for check in spec.checks:
        try:
            value = check(value)
        except ValueError as problem:
            raise Invalid([error(loc, str(problem), "value_error")]) from None
    return value
