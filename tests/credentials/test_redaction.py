"""The per-operation redactor: every form of every secret in use becomes ***, and nothing else changes."""

import base64
from urllib.parse import quote, quote_plus

from hypothesis import given
from hypothesis import strategies as st

from credentials.redaction import MASK, Redactor
from tests.canary import forms_of

SECRET = "p@ss/word+=?&%é"


def test_every_form_of_a_secret_is_masked():
    redact = Redactor([SECRET])
    raw = SECRET.encode()
    forms = [
        SECRET,
        quote(SECRET, safe=""),
        quote(SECRET, safe="").lower(),
        quote_plus(SECRET),
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode(),
    ]
    for form in forms:
        assert redact(f"before {form} after") == f"before {MASK} after", form


def test_text_without_secrets_is_unchanged_and_empty_secrets_are_ignored():
    redact = Redactor(["", None, SECRET])
    assert redact("nothing to hide here") == "nothing to hide here"
    assert Redactor()("anything") == "anything"


def test_the_longest_secret_wins_so_no_tail_survives():
    redact = Redactor(["abc", "abcdef"])
    assert redact("xx abcdef yy abc") == f"xx {MASK} yy {MASK}"


def test_derived_values_added_later_are_masked_too():
    redact = Redactor([SECRET])
    pair = f"octocat:{SECRET}"
    header = base64.b64encode(pair.encode()).decode()
    redact.add(pair)
    assert redact(f"Authorization: Basic {header}") == f"Authorization: Basic {MASK}"


def test_shorten_redacts_before_cutting():
    redact = Redactor([SECRET])
    text = "x" * 990 + SECRET + "y" * 50
    shortened = redact.shorten(text, 1000)
    assert len(shortened) <= 1000
    assert SECRET[:5] not in shortened.replace(MASK, "")


def test_its_repr_shows_no_secret():
    assert SECRET not in repr(Redactor([SECRET]))


def test_each_redactor_holds_only_its_own_secrets():
    first, second = Redactor(["first-secret"]), Redactor(["second-secret"])
    assert second("first-secret") == "first-secret"
    assert first("first-secret") == MASK


# Secrets without "*": one ending in "***" could be spelt anew by a mask next to its first character.
@given(
    secret=st.text(st.characters(blacklist_characters="*"), min_size=4, max_size=40),
    prefix=st.text(max_size=20),
    suffix=st.text(max_size=20),
)
def test_no_form_the_canary_search_knows_survives(secret, prefix, suffix):
    redact = Redactor([secret])
    for form in forms_of(secret):
        assert form not in redact(prefix + form + suffix)
