"""Field schemas for credential types: their definition, their parsing, and the one value validator."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from credentials.types.patterns import mismatch, pattern_problem

FIELD_TYPES = ("string", "number", "boolean", "options", "hidden")
INPUT_HINTS = ("text", "password", "textarea")

# Every string has a ceiling even when its field names none: an unbounded value is a
# denial-of-service vector and no credential needs more (a 16 KiB RSA key is ~12 KiB).
DEFAULT_MAX_LENGTH = 16_384
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# A schema's own size: every form, validation and page of its type walks it (the checks of one
# field against the earlier ones are quadratic). Custom types have a handful; built-in ones at most 8.
MAX_FIELDS = 50
MAX_OPTIONS = 200
MAX_SHOW_IF_VALUES = 50

REQUIRED = "This field is required."


class SchemaErrors(ValueError):
    """Problems found, keyed by field name (or ``__all__``), each a list of messages."""

    def __init__(self, errors: Mapping[str, list[str]]):
        self.errors = {key: list(messages) for key, messages in errors.items()}
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in self.errors.items()))


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class Field:
    """One input of a credential type, as the forms, the API and the validator see it."""

    name: str
    label: str
    type: str = "string"
    input: str = ""
    secret: bool = False
    required: bool = False
    default: Any = None
    options: tuple[Option, ...] = ()
    placeholder: str = ""
    help: str = ""
    pattern: str = ""
    min: float | None = None
    max: float | None = None
    max_length: int | None = None
    integer: bool = False
    # Shown (and validated) only when each named field holds one of the listed values.
    show_if: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.input:
            hint = "password" if self.secret else "text"
            object.__setattr__(self, "input", hint)

    @property
    def effective_max_length(self) -> int:
        return self.max_length if self.max_length is not None else DEFAULT_MAX_LENGTH

    def is_shown(self, values: Mapping[str, Any]) -> bool:
        return all(values.get(name) in allowed for name, allowed in self.show_if.items())

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "input": self.input,
            "secret": self.secret,
            "required": self.required,
        }
        optional = {
            "default": self.default,
            "placeholder": self.placeholder or None,
            "help": self.help or None,
            "pattern": self.pattern or None,
            "min": self.min,
            "max": self.max,
            "max_length": self.max_length,
        }
        data.update({key: value for key, value in optional.items() if value is not None})
        if self.integer:
            data["integer"] = True
        if self.options:
            data["options"] = [{"value": o.value, "label": o.label} for o in self.options]
        if self.show_if:
            data["show_if"] = {name: list(values) for name, values in self.show_if.items()}
        return data


# --- Values -------------------------------------------------------------------------------


def is_encodable(value: str) -> bool:
    """Whether ``value`` can be written as UTF-8 (it holds no lone surrogate)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _check_value(spec: Field, value: Any) -> list[str]:
    """The problems with one present (non-empty) value, against its field's rules."""
    if spec.type in ("string", "hidden"):
        if not isinstance(value, str):
            return ["Enter text."]
        if "\x00" in value:
            # PostgreSQL cannot store it, and no credential needs it.
            return ["Remove the null character."]
        if not is_encodable(value):
            # A lone UTF-16 surrogate (JSON allows "\ud800"): not text any server could be sent.
            return ["Remove the invalid character (a lone surrogate)."]
        problems = []
        if len(value) > spec.effective_max_length:
            problems.append(
                f"Ensure this value has at most {spec.effective_max_length} characters (it has {len(value)})."
            )
        elif spec.pattern:
            problems.extend(mismatch(spec.pattern, value))  # on RE2: linear in the value
        if spec.type == "hidden" and value != spec.default:
            problems.append("This field is set by the credential type and cannot be changed.")
        return problems
    if spec.type == "number":
        # bool is an int in Python; a JSON true is not a number.
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return ["Enter a number."]
        if spec.integer and not float(value).is_integer():
            return ["Enter a whole number."]
        if spec.min is not None and value < spec.min:
            return [f"Ensure this value is greater than or equal to {_plain(spec.min)}."]
        if spec.max is not None and value > spec.max:
            return [f"Ensure this value is less than or equal to {_plain(spec.max)}."]
        return []
    if spec.type == "boolean":
        return [] if isinstance(value, bool) else ["Enter true or false."]
    if spec.type == "options":
        allowed = [o.value for o in spec.options]
        if value not in allowed:
            return [f"Select one of: {', '.join(allowed)}."]
        return []
    raise AssertionError(f"unhandled field type {spec.type!r}")


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _normalise(spec: Field, value: Any) -> Any:
    if spec.type == "number" and spec.integer:
        return int(value)
    return value


def validate_values(fields: Iterable[Field], values: Any) -> dict[str, Any]:
    """Check ``values`` against ``fields``; return the cleaned values or raise every problem at once.

    Fields whose ``show_if`` condition does not hold are ignored (a form hides them), so a
    stale value left in a hidden input neither fails nor gets stored.
    """
    fields = tuple(fields)
    if not isinstance(values, Mapping):
        raise SchemaErrors({"__all__": ["Expected an object mapping field names to values."]})
    errors: dict[str, list[str]] = {}
    known = {spec.name for spec in fields}
    for name in values:
        if name not in known:
            errors[str(name)] = ["Unknown field."]

    cleaned: dict[str, Any] = {}
    for spec in fields:
        if not spec.is_shown(cleaned):
            continue
        value = values.get(spec.name)
        if _is_empty(value):
            if spec.default is not None:
                cleaned[spec.name] = spec.default
            elif spec.required:
                errors[spec.name] = [REQUIRED]
            continue
        problems = _check_value(spec, value)
        if problems:
            errors[spec.name] = problems
        else:
            cleaned[spec.name] = _normalise(spec, value)
    if errors:
        raise SchemaErrors(errors)
    return cleaned


# --- Schemas (custom types are defined as JSON by staff) -----------------------------------

_FIELD_KEYS = {
    "name", "label", "type", "input", "secret", "required", "default", "options",
    "placeholder", "help", "pattern", "min", "max", "max_length", "integer", "show_if",
}  # fmt: skip


def parse_schema(raw: Any, *, stored: bool = False) -> tuple[Field, ...]:
    """Build fields from their JSON form, reporting every problem by field position and name.

    ``stored``: a schema read back from the database, saved under older rules. Its fields load even
    over today's ceilings, and a pattern RE2 refuses fails each value at use instead of the type.
    """
    if not isinstance(raw, list) or not raw:
        raise SchemaErrors({"__all__": ["A schema is a non-empty list of field objects."]})
    if len(raw) > MAX_FIELDS and not stored:
        raise SchemaErrors({"__all__": [f"A schema has at most {MAX_FIELDS} fields (this one has {len(raw)})."]})
    errors: dict[str, list[str]] = {}
    fields: list[Field] = []
    for index, item in enumerate(raw, start=1):
        where = f"field {index}"
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            where = f"field {index} ({item['name']})"
        problems: list[str] = []
        spec = _parse_field(item, fields, problems, stored=stored)
        if problems:
            errors[where] = problems
        elif spec is not None:
            fields.append(spec)
    if errors:
        raise SchemaErrors(errors)
    return tuple(fields)


def _parse_field(item: Any, earlier: list[Field], problems: list[str], *, stored: bool = False) -> Field | None:
    if not isinstance(item, Mapping):
        problems.append("Each field is an object.")
        return None
    unknown = sorted(set(item) - _FIELD_KEYS)
    if unknown:
        problems.append(f"Unknown keys: {', '.join(unknown)}.")
    name = item.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        problems.append("'name' must be lower-case letters, digits and underscores, starting with a letter.")
    elif any(f.name == name for f in earlier):
        problems.append(f"The name '{name}' is used twice.")
    if not isinstance(item.get("label"), str) or not item.get("label", "").strip():
        problems.append("'label' is required text.")
    field_type = item.get("type", "string")
    if field_type not in FIELD_TYPES:
        problems.append(f"'type' must be one of {', '.join(FIELD_TYPES)}.")
    input_hint = item.get("input", "")
    if input_hint and input_hint not in INPUT_HINTS:
        problems.append(f"'input' must be one of {', '.join(INPUT_HINTS)}.")
    for flag in ("secret", "required", "integer"):
        if flag in item and not isinstance(item[flag], bool):
            problems.append(f"'{flag}' must be true or false.")
    for text in ("placeholder", "help", "pattern"):
        if text in item and not isinstance(item[text], str):
            problems.append(f"'{text}' must be text.")
    for bound in ("min", "max"):
        if bound in item and (isinstance(item[bound], bool) or not isinstance(item[bound], int | float)):
            problems.append(f"'{bound}' must be a number.")
    max_length = item.get("max_length")
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, int) or not 1 <= max_length <= DEFAULT_MAX_LENGTH
    ):
        problems.append(f"'max_length' must be a whole number from 1 to {DEFAULT_MAX_LENGTH}.")
    pattern = item.get("pattern", "")
    if not stored:
        problems.extend(_cost_problems(item))
    options = _parse_options(item.get("options", []), field_type, problems)
    show_if = _parse_show_if(item.get("show_if", {}), earlier, problems)
    if problems or not isinstance(name, str):  # a name that is not text is among the problems
        return None
    spec = Field(
        name=name,
        label=item["label"],
        type=field_type,
        input=input_hint,
        secret=item.get("secret", False),
        required=item.get("required", False),
        default=item.get("default"),
        options=options,
        placeholder=item.get("placeholder", ""),
        help=item.get("help", ""),
        pattern=pattern,
        min=item.get("min"),
        max=item.get("max"),
        max_length=max_length,
        integer=item.get("integer", False),
        show_if=show_if,
    )
    if spec.secret and spec.type not in ("string",):
        problems.append("Only string fields can be secret.")
    if spec.type == "hidden" and spec.default is None:
        problems.append("A hidden field needs a default: it is the value the type always uses.")
    if spec.default is not None:
        # A stored pattern RE2 refuses fails values at use; its default was checked when it was saved.
        rule = replace(spec, pattern="") if stored and spec.pattern and pattern_problem(spec.pattern) else spec
        problems.extend(f"'default' is invalid: {m}" for m in _check_value(rule, spec.default))
    return None if problems else spec


def _cost_problems(item: Mapping[str, Any]) -> list[str]:
    """What in a field's definition is over a ceiling: its pattern (on RE2), its options, its conditions."""
    problems = []
    pattern = item.get("pattern")
    if isinstance(pattern, str) and pattern:
        reason = pattern_problem(pattern)
        if reason:
            problems.append(f"'pattern' {reason}")
    options = item.get("options")
    if isinstance(options, list) and len(options) > MAX_OPTIONS:
        problems.append(f"A field has at most {MAX_OPTIONS} options (this one has {len(options)}).")
    show_if = item.get("show_if")
    if isinstance(show_if, Mapping):
        for name, wanted in show_if.items():
            if isinstance(wanted, list) and len(wanted) > MAX_SHOW_IF_VALUES:
                problems.append(
                    f"'show_if' lists at most {MAX_SHOW_IF_VALUES} values for a field ('{name}' has {len(wanted)})."
                )
    return problems


def _parse_options(raw: Any, field_type: str, problems: list[str]) -> tuple[Option, ...]:
    if field_type != "options":
        if raw:
            problems.append("'options' belongs only to fields of type options.")
        return ()
    if not isinstance(raw, list) or not raw:
        problems.append("A field of type options needs a non-empty 'options' list.")
        return ()
    options = []
    for entry in raw:
        if isinstance(entry, str):
            options.append(Option(entry, entry))
        elif isinstance(entry, Mapping) and isinstance(entry.get("value"), str):
            options.append(Option(entry["value"], str(entry.get("label") or entry["value"])))
        else:
            problems.append("Each option is text or an object with 'value' and 'label'.")
            return ()
    return tuple(options)


def _parse_show_if(raw: Any, earlier: list[Field], problems: list[str]) -> dict[str, tuple[Any, ...]]:
    if not raw:
        return {}
    if not isinstance(raw, Mapping):
        problems.append("'show_if' maps an earlier field's name to the value (or list of values) that shows this one.")
        return {}
    names = {f.name for f in earlier}
    condition: dict[str, tuple[Any, ...]] = {}
    for name, wanted in raw.items():
        if name not in names:
            problems.append(f"'show_if' names '{name}', which is not an earlier field.")
            continue
        condition[name] = tuple(wanted) if isinstance(wanted, list) else (wanted,)
    return condition


def _raw_fields(raw: Any) -> list[Mapping[str, Any]]:
    return [item for item in raw if isinstance(item, Mapping)] if isinstance(raw, list) else []


def secret_names(raw: Any) -> list[str]:
    """The names of the fields a schema's JSON form marks secret (read as is, valid or not)."""
    return [f["name"] for f in _raw_fields(raw) if f.get("secret") is True and isinstance(f.get("name"), str)]


def check_secret_history(secret_history: Iterable[str], raw: Any) -> None:
    """Raise SchemaErrors if the schema (valid or not) has a field named in ``secret_history`` that is not secret.

    Credentials keep their values across schema changes, even of a field removed and added back,
    so a field that stopped being secret would have its stored value copied into the clear
    columns on the next edit. The history only grows (``CredentialType.save``).
    """
    history = set(secret_history)
    exposed = [
        f["name"]
        for f in _raw_fields(raw)
        if isinstance(f.get("name"), str) and f["name"] in history and f.get("secret") is not True
    ]
    if exposed:
        raise SchemaErrors(
            {
                f"field ({name})": [
                    f"'{name}' was secret once and must stay secret: values stored while it was secret would "
                    "be shown in clear. Keep it secret, or add a field with a new name."
                ]
                for name in exposed
            }
        )


def parse_schema_change(secret_history: Iterable[str], new_raw: Any) -> tuple[Field, ...]:
    """Parse a schema for a type whose fields named in ``secret_history`` were ever secret: they stay secret."""
    fields = parse_schema(new_raw)
    check_secret_history(secret_history, new_raw)
    return fields


def with_secret_history(fields: Iterable[Field], secret_history: Iterable[str]) -> tuple[Field, ...]:
    """The fields, every one named in ``secret_history`` made secret whatever the schema says.

    ``parse_schema_change`` refuses such a schema; this holds even for one written around it.
    """
    history = set(secret_history)
    return tuple(
        replace(f, secret=True, input="password" if f.input == "text" else f.input)
        if f.name in history and not f.secret
        else f
        for f in fields
    )


def json_schema(fields: Iterable[Field]) -> dict[str, Any]:
    """The fields as a JSON Schema object, for clients that validate before they send."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for spec in fields:
        prop: dict[str, Any] = {"title": spec.label}
        if spec.help:
            prop["description"] = spec.help
        if spec.type in ("string", "hidden"):
            prop["type"] = "string"
            prop["maxLength"] = spec.effective_max_length
            if spec.pattern:
                prop["pattern"] = spec.pattern
        elif spec.type == "number":
            prop["type"] = "integer" if spec.integer else "number"
            if spec.min is not None:
                prop["minimum"] = spec.min
            if spec.max is not None:
                prop["maximum"] = spec.max
        elif spec.type == "boolean":
            prop["type"] = "boolean"
        elif spec.type == "options":
            prop["enum"] = [o.value for o in spec.options]
        if spec.secret:
            prop["writeOnly"] = True
        if spec.default is not None:
            prop["default"] = spec.default
        properties[spec.name] = prop
        if spec.required and not spec.show_if and spec.default is None:
            required.append(spec.name)
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
