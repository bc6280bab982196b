"""DRF fields and a strict serializer base that validate the way the reference does.

Error codes raised here are pydantic's error *types* (``type_error.uuid`` ...) and the
messages are pydantic's wording, so ``orion_project.api.errors`` can report them
unchanged. Every field is optional and nullable unless the caller says otherwise, as in
the reference's action models; strings keep their whitespace and may be empty.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from orion_project.clock import (
    MAX_DURATION_SECONDS,
    DateTimeFormatError,
    DateTimeRangeError,
    DurationRangeError,
    duration_from_seconds,
    parse_datetime,
)

INVALID_NAME_CHARACTERS = ("/", "%", "&", ">", "<")

# The range of PostgreSQL's ``integer`` column, which holds every integer the API stores.
# Integers past it are refused here with a 422, not by the database with a 500.
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1
SMALLINT_MIN = -(2**15)
SMALLINT_MAX = 2**15 - 1
# The most items a filter operator's list (``any_``, ``not_any_`` ...) may carry: SQLite
# and PostgreSQL take far more parameters, but nothing legitimate needs more than this.
MAX_FILTER_LIST_ITEMS = 10_000


class OptionalFieldMixin:
    """Fields default to ``required=False, allow_null=True`` like pydantic action models."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        if not kwargs["required"] and "default" not in kwargs:
            kwargs.setdefault("allow_null", True)
        super().__init__(*args, **kwargs)


class StrField(OptionalFieldMixin, serializers.CharField):
    """A string kept exactly as sent (no trimming, empty allowed)."""

    default_error_messages = {"type_error.str": "str type expected"}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool) or not isinstance(data, (str, int, float)):
            self.fail("type_error.str")
        return str(data)


class NameField(StrField):
    """An object name that must not contain any of ``/ % & > <`` (reference §B.0)."""

    default_error_messages = {
        "value_error.invalidname": (
            "Name '{value}' contains an invalid character. Must not contain any of: ['/', '%', '&', '>', '<']."
        )
    }

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if any(char in value for char in INVALID_NAME_CHARACTERS):
            self.fail("value_error.invalidname", value=value)
        return value


@extend_schema_field(OpenApiTypes.UUID)
class UUIDField(OptionalFieldMixin, serializers.Field):
    """A UUID given as a string in any of Python's accepted spellings."""

    default_error_messages = {"type_error.uuid": "value is not a valid uuid"}

    def to_internal_value(self, data: Any) -> uuid.UUID:
        if isinstance(data, uuid.UUID):
            return data
        if not isinstance(data, str):
            self.fail("type_error.uuid")
        try:
            return uuid.UUID(data)
        except ValueError:
            self.fail("type_error.uuid")
            raise  # unreachable: fail() raises

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(OpenApiTypes.DATETIME)
class DateTimeField(OptionalFieldMixin, serializers.Field):
    """An ISO-8601 timestamp or epoch seconds; naive values are taken as UTC, output keeps
    ``+00:00``. The one datetime field of every body, filter and query string: a value
    whose UTC time leaves the years 1 to 9999 is a 422 here, never an overflow later."""

    default_error_messages = {"value_error.datetime": "invalid datetime format"}

    def to_internal_value(self, data: Any) -> dt.datetime:
        try:
            return parse_datetime(data)
        except DateTimeRangeError as error:
            # The same error type as a malformed value, with the bound in its message.
            raise serializers.ValidationError([serializers.ErrorDetail(str(error), "value_error.datetime")]) from None
        except DateTimeFormatError:
            self.fail("value_error.datetime")
            raise

    def to_representation(self, value: Any) -> Any:
        # The JSON renderer writes aware datetimes as ISO-8601 with an explicit offset.
        return value


class IntField(OptionalFieldMixin, serializers.IntegerField):
    """An integer within the database's ``integer`` range; pydantic's message and bound errors."""

    default_error_messages = {
        "invalid": "value is not a valid integer",
        "max_string_length": "value is not a valid integer",
        "min_value": "ensure this value is greater than or equal to {min_value}",
        "max_value": "ensure this value is less than or equal to {max_value}",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", INT_MIN)
        kwargs.setdefault("max_value", INT_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, float) and data.is_integer():
            data = int(data)
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as error:
            raise _recode(
                error,
                {
                    "invalid": "type_error.integer",
                    "max_string_length": "type_error.integer",
                    "min_value": "value_error.number.not_ge",
                    "max_value": "value_error.number.not_le",
                },
            ) from None


class FloatField(OptionalFieldMixin, serializers.FloatField):
    """A finite number."""

    default_error_messages = {
        "invalid": "value is not a valid float",
        "min_value": "ensure this value is greater than or equal to {min_value}",
        "max_value": "ensure this value is less than or equal to {max_value}",
    }

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            raise _recode(
                error,
                {
                    "invalid": "type_error.float",
                    "min_value": "value_error.number.not_ge",
                    "max_value": "value_error.number.not_le",
                },
            ) from None
        if not math.isfinite(value):
            raise serializers.ValidationError(
                [serializers.ErrorDetail(str(self.error_messages["invalid"]), "type_error.float")]
            )
        return value


def seconds_field(**kwargs: Any) -> FloatField:
    """A duration in seconds that fits a ``timedelta`` (sent as a plain number)."""
    kwargs.setdefault("min_value", -MAX_DURATION_SECONDS)
    kwargs.setdefault("max_value", MAX_DURATION_SECONDS)
    return FloatField(**kwargs)


class BoolField(OptionalFieldMixin, serializers.BooleanField):
    """A boolean with pydantic's lenient parsing ("true", 1, "yes" ...)."""

    default_error_messages = {"invalid": "value could not be parsed to a boolean"}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> bool:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as error:
            raise _recode(error, {"invalid": "type_error.bool"}) from None


@extend_schema_field(OpenApiTypes.NUMBER)
class TimedeltaField(OptionalFieldMixin, serializers.Field):
    """A duration on the wire as a number of seconds, within ±``MAX_DURATION_SECONDS``."""

    default_error_messages = {"type_error.timedelta": "invalid duration format"}

    def to_internal_value(self, data: Any) -> dt.timedelta:
        if isinstance(data, bool):
            self.fail("type_error.timedelta")
        try:
            return duration_from_seconds(float(data))
        except DurationRangeError as error:
            raise serializers.ValidationError([serializers.ErrorDetail(error.message, error.error_type)]) from None
        except (TypeError, ValueError, OverflowError):
            self.fail("type_error.timedelta")
            raise

    def to_representation(self, value: Any) -> Any:
        return value.total_seconds() if isinstance(value, dt.timedelta) else value


@extend_schema_field(OpenApiTypes.OBJECT)
class JSONObjectField(OptionalFieldMixin, serializers.Field):
    """Any JSON object (a ``dict``)."""

    default_error_messages = {"type_error.dict": "value is not a valid dict"}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            self.fail("type_error.dict")
        return dict(data)

    def to_representation(self, value: Any) -> Any:
        return value


class AnyJSONField(OptionalFieldMixin, serializers.JSONField):
    """Any JSON value."""

    def to_representation(self, value: Any) -> Any:
        return value


class ListField(OptionalFieldMixin, serializers.ListField):
    """A JSON array whose items are validated by ``child``."""

    default_error_messages = {
        "not_a_list": "value is not a valid list",
        "max_length": "ensure this value has at most {max_length} items",
    }

    def to_internal_value(self, data: Any) -> list[Any]:
        if isinstance(data, (str, Mapping)) or not hasattr(data, "__iter__"):
            self.fail("not_a_list", input_type=type(data).__name__)
        if self.max_length is not None and len(data) > self.max_length:
            # Checked before the items, so a huge list is refused without validating each.
            raise serializers.ValidationError(
                [
                    serializers.ErrorDetail(
                        self.error_messages["max_length"].format(max_length=self.max_length),
                        "value_error.list.max_items",
                    )
                ]
            )
        return super().to_internal_value(data)


def tags_field(**kwargs: Any) -> ListField:
    """The ``tags`` field of every resource: a list of strings."""
    return ListField(child=StrField(allow_null=False), **kwargs)


class EnumField(OptionalFieldMixin, serializers.ChoiceField):
    """One value of an enumeration, reported like pydantic's enum errors."""

    def __init__(self, choices: Iterable[str], **kwargs: Any) -> None:
        super().__init__(choices=list(choices), **kwargs)
        permitted = ", ".join(f"'{choice}'" for choice in self.choices)
        self.error_messages["type_error.enum"] = f"value is not a valid enumeration member; permitted: {permitted}"

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or data not in self.choice_strings_to_values:
            self.fail("type_error.enum")
        return str(self.choice_strings_to_values[data])


def _recode(error: serializers.ValidationError, codes: dict[str, str]) -> serializers.ValidationError:
    """Re-issue a DRF field error with pydantic's error type as its code."""
    details = error.detail if isinstance(error.detail, list) else [error.detail]
    recoded = [
        serializers.ErrorDetail(str(item), codes.get(getattr(item, "code", ""), "value_error")) for item in details
    ]
    return serializers.ValidationError(recoded)


class StrictSerializer(serializers.Serializer):
    """A serializer that rejects keys it does not declare (pydantic ``extra = forbid``).

    Unknown keys are reported together with the other field errors, as pydantic does.
    Subclasses list accepted-but-ignored keys in ``Meta.ignored_fields``.
    """

    default_error_messages = {"type_error.dict": "value is not a valid dict"}

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            self.fail("type_error.dict")
        errors: dict[str, Any] = {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            errors.update(error.detail if isinstance(error.detail, dict) else {})
            value = None
        ignored = set(getattr(getattr(self, "Meta", None), "ignored_fields", ()))
        for key in data:
            if key not in self.fields and key not in ignored:
                errors[key] = [serializers.ErrorDetail("extra fields not permitted", "value_error.extra")]
        if errors:
            raise serializers.ValidationError(errors)
        return value

    def run_validation(self, data: Any = empty) -> Any:
        # A non-object body is reported at the object's own location.
        if data is not empty and data is not None and not isinstance(data, Mapping):
            raise serializers.ValidationError([serializers.ErrorDetail("value is not a valid dict", "type_error.dict")])
        return super().run_validation(data)


class EmbeddedBodySerializer(StrictSerializer):
    """A body made of several top-level parameters (``{"flows": ..., "sort": ..., "limit": ...}``).

    As in the reference, a top-level ``null`` means "not given": the parameter's default
    applies (the stock clients send ``"sort": null``, ``"offset": null``). Unknown
    top-level keys are ignored, as the reference does for bodies made of several
    parameters (the stock dashboard sends ``sort`` and ``limit`` in every ``/count``
    body); the objects inside (filters, states) still reject unknown keys.
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            data = {key: value for key, value in data.items() if value is not None and key in self.fields}
        return super().to_internal_value(data)


class MaxLengthStrField(StrField):
    """A string of at most ``max_length`` characters (pydantic's ``max_length`` error)."""

    default_error_messages = {
        "value_error.any_str.max_length": "ensure this value has at most {max_length} characters",
    }

    def __init__(self, *, max_length: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limit = max_length

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if self.limit is not None and len(value) > self.limit:
            self.fail("value_error.any_str.max_length", max_length=self.limit)
        return value


class PatternNameField(MaxLengthStrField):
    """A name with an allowed alphabet (and maybe a maximum length), reported as the 2.20
    reference does (``Variable name must only contain lowercase letters, numbers, and underscores.``)."""

    default_error_messages = {**MaxLengthStrField.default_error_messages, "value_error": "{rule}"}

    def __init__(self, *, pattern: str, rule: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pattern = re.compile(pattern)
        self.rule = rule

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not self.pattern.match(value):
            self.fail("value_error", rule=self.rule)
        return value


@extend_schema_field(OpenApiTypes.NUMBER)
class NonNegativeField(OptionalFieldMixin, serializers.Field):
    """A number ≥ 0 that the 2.20 reference validates with pydantic 2 inside a pydantic 1
    model, so its errors carry pydantic 2's text under ``value_error.validation``."""

    default_error_messages = {"value_error.validation": "{text}"}

    def __init__(self, *, integer: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.integer = integer

    def _fail(self, data: Any, kind: str, message: str) -> None:
        name = "constrained-int" if self.integer else "constrained-float"
        text = (
            f"1 validation error for {name}\n  {message} [type={kind}, input_value={data!r}, "
            f"input_type={type(data).__name__}]\n    For further information visit "
            f"https://errors.pydantic.dev/2.12/v/{kind}"
        )
        self.fail("value_error.validation", text=text)

    def to_internal_value(self, data: Any) -> int | float:
        value: int | float
        if isinstance(data, bool) or not isinstance(data, (int, float, str)):
            kind = "int_type" if self.integer else "float_type"
            self._fail(data, kind, f"Input should be a valid {'integer' if self.integer else 'number'}")
            raise AssertionError("unreachable")
        try:
            number = float(data)
        except ValueError:
            if self.integer:
                self._fail(data, "int_parsing", "Input should be a valid integer, unable to parse string as an integer")
            else:
                self._fail(data, "float_parsing", "Input should be a valid number, unable to parse string as a number")
            raise AssertionError("unreachable") from None
        if self.integer:
            if not number.is_integer():
                self._fail(
                    data, "int_from_float", "Input should be a valid integer, got a number with a fractional part"
                )
            value = int(number)
        else:
            if not math.isfinite(number):
                self._fail(data, "finite_number", "Input should be a finite number")
            value = number
        if value < 0:
            self._fail(data, "greater_than_equal", "Input should be greater than or equal to 0")
        if self.integer and value > INT_MAX:
            # The column is a database ``integer``: a larger value would fail the insert.
            self._fail(data, "less_than_equal", f"Input should be less than or equal to {INT_MAX}")
        return value

    def to_representation(self, value: Any) -> Any:
        return value


class LenientBodySerializer(EmbeddedBodySerializer):
    """A body of several top-level parameters whose unknown keys are ignored, as FastAPI
    ignores them for the 2.20 reference's embedded ``Body(...)`` parameters."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            data = {key: value for key, value in data.items() if key in self.fields}
        return super().to_internal_value(data)


# What FastAPI's ``uuid`` path converter matches: other values under such a path are a 404.
UUID_PATH_PATTERN = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
