"""TokenLabel: the name a person gave one of their API tokens."""

from __future__ import annotations

from django.db import models

TOKEN_NAME_MAX_LENGTH = 100


class TokenLabel(models.Model):
    """The name of a django-rest-knox token, which has no field for one.

    A side table rather than a swapped ``KNOX_TOKEN_MODEL``: swapping knox's model under existing
    tokens and migrations costs more than one column here. The label goes with its token (knox
    deletes expired and revoked tokens). Tokens obtained from ``/api/auth/token/`` have none.
    """

    token = models.OneToOneField("knox.AuthToken", on_delete=models.CASCADE, primary_key=True, related_name="label")
    name = models.CharField(max_length=TOKEN_NAME_MAX_LENGTH)

    def __str__(self) -> str:
        return self.name
