"""A page of credential rows with the caller's flags, read by one statement written once per process."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import BooleanField, Field, ForeignKey
from django.db.models.expressions import Col, RawSQL

from config.actors import Caller
from credentials.models import Credential
from credentials.permissions import FLAGS, flag_tests

# Built by the ORM, this statement cost about 1 ms a call to assemble and compile (its five flag
# subqueries, two joins and a hundred ids): a sixth of a page's own time in `make bench`'s
# "list 100 (API)". The columns and joins are worked out once per process; the flags' SQL comes
# from permissions.flag_tests as for the ORM's annotations; each call only joins the strings and
# passes its parameters. tests/credentials/test_page_rows.py holds its rows to the ORM's values().


@dataclass(frozen=True)
class _Layout:
    """The columns' SQL and joins, their names, and the expression behind each (for Django's converters)."""

    select: str
    joins: str
    names: tuple[str, ...]
    outputs: tuple[Any, ...]


def rows_with_flags(
    user: Caller, *, ids: Sequence[uuid.UUID], columns: Sequence[str], using: str = "default"
) -> list[dict[str, Any]]:
    """``values(*columns, *FLAGS)`` of the credentials ``ids``, with the FLAGS ``user`` has on each, in no order.

    A column is a field of Credential or a field of one of its foreign keys (``owner__username``);
    the FLAGS are always read, whether ``columns`` names them or not. Nothing here decides who may
    see a row: the caller found ``ids`` for ``user`` already.
    """
    if not ids:
        return []
    connection = connections[using]
    layout = _layout(tuple(column for column in columns if column not in FLAGS), using)
    tests = flag_tests(user)
    table = connection.ops.quote_name(Credential._meta.db_table)
    flags = ", ".join(
        f"{table}.{connection.ops.quote_name(test.column)} IN ({test.sql}) AS {connection.ops.quote_name(test.flag)}"
        for test in tests
    )
    pk = Credential._meta.pk
    key = f"{table}.{connection.ops.quote_name(pk.column)}"
    marks = ", ".join(["%s"] * len(ids))
    sql = f"SELECT {layout.select}, {flags} FROM {table} {layout.joins} WHERE {key} IN ({marks})"
    params = [param for test in tests for param in test.params]
    params += [pk.get_db_prep_value(pk_value, connection) for pk_value in ids]
    outputs = (*layout.outputs, *(_FLAG for _ in tests))
    names = (*layout.names, *(test.flag for test in tests))
    converters = [
        (index, found)
        for index, output in enumerate(outputs)
        if (found := connection.ops.get_db_converters(output) + output.get_db_converters(connection))
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    rows = []
    for fetched_row in fetched:
        values = list(fetched_row)
        for index, functions in converters:
            for convert in functions:
                values[index] = convert(values[index], outputs[index], connection)
        rows.append(dict(zip(names, values, strict=True)))
    return rows


# The flags as values() gives them: a boolean (None where team_id is null) on every database.
_FLAG = RawSQL("", (), output_field=BooleanField())


@functools.cache
def _layout(columns: tuple[str, ...], using: str) -> _Layout:
    quote = connections[using].ops.quote_name  # the same for every connection to the database
    table = Credential._meta.db_table
    selects, joins, outputs = [], {}, []
    for name in columns:
        relation, _, attribute = name.partition("__")
        if attribute:
            foreign_key = Credential._meta.get_field(relation)
            if not isinstance(foreign_key, ForeignKey) or "__" in attribute:
                raise ValueError(f"{name!r}: a row reads its own fields and one foreign key's, no further.")
            target = foreign_key.target_field.model._meta
            # The relation's name is its alias: owner and updated_by both join auth_user.
            kind = "LEFT OUTER JOIN" if foreign_key.null else "INNER JOIN"
            key, target_key = quote(foreign_key.column), quote(foreign_key.target_field.column)
            joins[relation] = (
                f"{kind} {quote(target.db_table)} {quote(relation)} ON "
                f"({quote(table)}.{key} = {quote(relation)}.{target_key})"
            )
            alias, field = relation, target.get_field(attribute)
        else:
            alias, field = table, Credential._meta.get_field(name)
        if not isinstance(field, Field) or field.column is None:
            raise ValueError(f"{name!r} is not a column.")
        selects.append(f"{quote(alias)}.{quote(field.column)}")
        outputs.append(Col(alias, field))
    return _Layout(select=", ".join(selects), joins=" ".join(joins.values()), names=columns, outputs=tuple(outputs))


def forget_layouts() -> None:
    """Empty the layouts (config/caches.py): they follow the models, so only tests ever ask."""
    _layout.cache_clear()
