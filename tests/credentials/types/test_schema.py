"""The schema validator: every rule with good and bad values, all problems reported at once."""

import pytest

from credentials.types import Field, Option, SchemaErrors, json_schema, parse_schema, validate_values
from credentials.types.schema import DEFAULT_MAX_LENGTH


def errors_of(fields, values) -> dict[str, list[str]]:
    with pytest.raises(SchemaErrors) as caught:
        validate_values(fields, values)
    return caught.value.errors


TOKEN = Field(name="token", label="Token", secret=True, required=True)
PORT = Field(name="port", label="Port", type="number", integer=True, default=5432, min=1, max=65535)
RATIO = Field(name="ratio", label="Ratio", type="number", min=0, max=1)
TLS = Field(name="tls", label="TLS", type="boolean", default=False)
MODE = Field(name="mode", label="Mode", type="options", options=(Option("a", "A"), Option("b", "B")), default="a")
CODE = Field(name="code", label="Code", pattern=r"[A-Z]{3}", max_length=3)
CERT = Field(name="cert", label="Certificate", input="textarea", required=True, show_if={"tls": (True,)})
FIXED = Field(name="fixed", label="Fixed", type="hidden", default="v1")


def test_secret_fields_default_to_password_inputs():
    assert TOKEN.input == "password"
    assert Field(name="host", label="Host").input == "text"


def test_valid_values_are_cleaned_with_defaults():
    fields = (TOKEN, PORT, TLS, MODE, FIXED)
    assert validate_values(fields, {"token": "t"}) == {
        "token": "t",
        "port": 5432,
        "tls": False,
        "mode": "a",
        "fixed": "v1",
    }


@pytest.mark.parametrize("value", [None, "", "   "])
def test_required_field_missing(value):
    assert errors_of((TOKEN,), {"token": value}) == {"token": ["This field is required."]}


def test_unknown_fields_are_rejected():
    assert errors_of((TOKEN,), {"token": "t", "extra": 1}) == {"extra": ["Unknown field."]}


def test_values_must_be_an_object():
    assert "__all__" in errors_of((TOKEN,), ["token"])


@pytest.mark.parametrize("value", ["5432", True, [1], 1.5, float("nan"), float("inf")])
def test_integer_rejects_non_integers(value):
    assert "port" in errors_of((PORT,), {"port": value})


@pytest.mark.parametrize(("value", "ok"), [(0, False), (1, True), (65535, True), (65536, False), (2.0, True)])
def test_number_bounds(value, ok):
    if ok:
        assert validate_values((PORT,), {"port": value})["port"] == int(value)
    else:
        assert "port" in errors_of((PORT,), {"port": value})


def test_float_numbers_and_their_messages():
    assert validate_values((RATIO,), {"ratio": 0.5}) == {"ratio": 0.5}
    assert errors_of((RATIO,), {"ratio": 1.5}) == {"ratio": ["Ensure this value is less than or equal to 1."]}
    assert errors_of((RATIO,), {"ratio": -1}) == {"ratio": ["Ensure this value is greater than or equal to 0."]}


@pytest.mark.parametrize("value", ["true", 1, 0, "yes"])
def test_boolean_is_a_boolean(value):
    assert errors_of((TLS,), {"tls": value}) == {"tls": ["Enter true or false."]}


def test_options():
    assert validate_values((MODE,), {"mode": "b"}) == {"mode": "b"}
    assert errors_of((MODE,), {"mode": "c"}) == {"mode": ["Select one of: a, b."]}


def test_string_rules():
    assert validate_values((CODE,), {"code": "ABC"}) == {"code": "ABC"}
    assert "pattern" in errors_of((CODE,), {"code": "abc"})["code"][0]
    assert "at most 3" in errors_of((CODE,), {"code": "ABCD"})["code"][0]
    assert errors_of((CODE,), {"code": 123}) == {"code": ["Enter text."]}


def test_strings_have_a_ceiling_even_without_max_length():
    field = Field(name="note", label="Note")
    validate_values((field,), {"note": "x" * DEFAULT_MAX_LENGTH})
    assert "note" in errors_of((field,), {"note": "x" * (DEFAULT_MAX_LENGTH + 1)})


def test_hidden_fields_hold_their_default():
    assert validate_values((FIXED,), {}) == {"fixed": "v1"}
    assert "fixed" in errors_of((FIXED,), {"fixed": "v2"})


def test_conditional_field_required_only_when_shown():
    fields = (TLS, CERT)
    assert validate_values(fields, {"tls": False}) == {"tls": False}
    assert errors_of(fields, {"tls": True}) == {"cert": ["This field is required."]}
    assert validate_values(fields, {"tls": True, "cert": "PEM"}) == {"tls": True, "cert": "PEM"}


def test_hidden_conditional_values_are_ignored_not_stored():
    # A form hides the input but may still send its stale value: it is neither checked nor kept.
    assert validate_values((TLS, CERT), {"tls": False, "cert": 12}) == {"tls": False}


def test_every_problem_is_reported_at_once():
    fields = (TOKEN, PORT, TLS, MODE, CODE)
    errors = errors_of(fields, {"port": "x", "tls": "x", "mode": "x", "code": "x", "nope": 1})
    assert set(errors) == {"token", "port", "tls", "mode", "code", "nope"}


# --- parse_schema: what staff may define ---------------------------------------------------


def test_parse_schema_round_trips_every_builtin_field_shape():
    fields = (TOKEN, PORT, RATIO, TLS, MODE, CODE, CERT, FIXED)
    assert parse_schema([f.as_dict() for f in fields]) == fields


def test_parse_schema_accepts_plain_string_options():
    (field,) = parse_schema([{"name": "region", "label": "Region", "type": "options", "options": ["eu", "us"]}])
    assert [o.value for o in field.options] == ["eu", "us"]


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"name": "Bad Name", "label": "X"}, "'name' must be"),
        ({"name": "x"}, "'label' is required"),
        ({"name": "x", "label": "X", "type": "date"}, "'type' must be one of"),
        ({"name": "x", "label": "X", "input": "rich"}, "'input' must be one of"),
        ({"name": "x", "label": "X", "secret": "yes"}, "'secret' must be true or false"),
        ({"name": "x", "label": "X", "pattern": "("}, "not a valid regular expression"),
        ({"name": "x", "label": "X", "type": "options"}, "needs a non-empty 'options'"),
        ({"name": "x", "label": "X", "options": ["a"]}, "belongs only to fields of type options"),
        ({"name": "x", "label": "X", "show_if": {"missing": 1}}, "not an earlier field"),
        ({"name": "x", "label": "X", "type": "number", "default": "1"}, "'default' is invalid"),
        ({"name": "x", "label": "X", "type": "hidden"}, "needs a default"),
        ({"name": "x", "label": "X", "type": "boolean", "secret": True}, "Only string fields can be secret"),
        ({"name": "x", "label": "X", "max_length": 0}, "'max_length' must be"),
        ({"name": "x", "label": "X", "colour": "red"}, "Unknown keys: colour"),
        ("token", "Each field is an object"),
    ],
)
def test_parse_schema_rejects(field, message):
    with pytest.raises(SchemaErrors) as caught:
        parse_schema([field])
    (messages,) = caught.value.errors.values()
    assert any(message in m for m in messages), messages


def test_parse_schema_reports_duplicates_and_every_field_by_position():
    with pytest.raises(SchemaErrors) as caught:
        parse_schema([{"name": "a", "label": "A"}, {"name": "a", "label": "A"}, {"name": "b"}])
    assert set(caught.value.errors) == {"field 2 (a)", "field 3 (b)"}


@pytest.mark.parametrize("raw", [[], {}, "[]", None])
def test_parse_schema_needs_a_list_of_fields(raw):
    with pytest.raises(SchemaErrors):
        parse_schema(raw)


def test_json_schema_marks_secrets_write_only_and_forbids_extras():
    schema = json_schema((TOKEN, PORT, MODE, CERT))
    assert schema["additionalProperties"] is False
    assert schema["properties"]["token"]["writeOnly"] is True
    assert schema["properties"]["port"] == {
        "title": "Port", "type": "integer", "minimum": 1, "maximum": 65535, "default": 5432,
    }  # fmt: skip
    assert schema["properties"]["mode"]["enum"] == ["a", "b"]
    # A conditional field cannot be required unconditionally in plain JSON Schema.
    assert schema["required"] == ["token"]


def test_a_schema_change_keeps_secrets_secret():
    from credentials.types import parse_schema_change, secret_names

    history = secret_names([TOKEN.as_dict(), CODE.as_dict()])
    assert history == ["token"]
    assert parse_schema_change(history, [TOKEN.as_dict(), {**CODE.as_dict(), "secret": True}])  # more secret is fine
    assert parse_schema_change(history, [CODE.as_dict()])  # removing a field is fine
    with pytest.raises(SchemaErrors) as caught:
        parse_schema_change(history, [{**TOKEN.as_dict(), "secret": False}])
    assert list(caught.value.errors) == ["field (token)"]
    # Added back later, after a schema without it: still refused, the history remembers it.
    with pytest.raises(SchemaErrors):
        parse_schema_change(history, [CODE.as_dict(), {"name": "token", "label": "Token"}])


def test_a_field_in_the_history_is_secret_whatever_the_schema_says():
    from credentials.types import CustomCredentialType

    spec = CustomCredentialType(
        slug="t", name="T", category="api", icon="key", description="",
        schema=[CODE.as_dict(), {"name": "token", "label": "Token"}], secret_history=["token"],
    )  # fmt: skip
    assert spec.secret_field_names == ("token",)
    assert spec.field("token").input == "password"
