"""Page-number pagination with a client-chosen page size, capped so one request stays bounded."""

from __future__ import annotations

from typing import Any

from django.core.paginator import EmptyPage, Page, Paginator
from django.db.models import Count, Window
from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request

# The page numbers a list answers: an offset past this costs the database its whole table for
# nothing, and one past PostgreSQL's bigint (page 9223372036854775807) was a 500.
MAX_PAGE = 1_000_000


def _whole_number(request: Request, name: str, ceiling: int) -> int | None:
    """The query parameter as a number of 1 or more, or ``ceiling + 1`` when it is over ``ceiling``.

    Anything else is a 400 naming it. The digits are counted before they are converted: Python
    refuses to convert more than 4,300 of them (a 500), and the work grows with their number.
    """
    raw = request.query_params.get(name)
    if raw is None:
        return None
    digits = raw.lstrip("0")
    if not (raw.isascii() and raw.isdigit()) or not digits:
        raise ValidationError({name: ["Send a whole number, 1 or more."]})
    if len(digits) > len(str(ceiling)) or int(digits) > ceiling:
        return ceiling + 1
    return int(digits)


class PageNumberPagination(pagination.PageNumberPagination):
    """A bad ``page`` or ``page_size`` is a 400 naming it (DRF would quietly use the default size).

    A page past the last, or past MAX_PAGE, is a 404, as in DRF; a size over the maximum gets the maximum.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
    invalid_page_message = "No page {page_number}: {message}."

    def get_page_size(self, request: Request) -> int:
        wanted = _whole_number(request, self.page_size_query_param, self.max_page_size)
        return self.page_size if wanted is None else min(wanted, self.max_page_size)

    def get_page_number(self, request: Request, paginator: Any) -> int:
        if request.query_params.get(self.page_query_param) in self.last_page_strings:
            return paginator.num_pages
        number = _whole_number(request, self.page_query_param, MAX_PAGE) or 1
        if number > MAX_PAGE:
            raise NotFound(f"No such page: page numbers stop at {MAX_PAGE}.")
        return number

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["maximum"] = MAX_PAGE
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Results per page: {self.page_size} when absent; a number over {self.max_page_size} "
                    f"gets {self.max_page_size}."
                )
        return parameters


class OneQueryPaginator(Paginator):
    """Counts with ``COUNT(*) OVER ()`` in the page's own query: one statement, where Django sends two.

    Worth it where finding the rows is the expensive part (a permission-filtered list): a
    separate COUNT would find them all a second time. Only a page past the end, or a request
    for the last page, costs a separate count.
    """

    def page(self, number: Any) -> Page:
        number = int(number)
        bottom = (number - 1) * self.per_page
        # Given querysets only (the paginator's stubs allow any sliceable), and Paginator._get_page is
        # Django's own (undeclared in the stubs): the ignores below.
        window = Window(Count("*"))
        rows = list(self.object_list.annotate(_total=window)[bottom : bottom + self.per_page])  # type: ignore[attr-defined]
        if rows:
            first = rows[0]
            self.__dict__["count"] = first["_total"] if isinstance(first, dict) else first._total
        elif number == 1:
            self.__dict__["count"] = 0
        else:
            raise EmptyPage("That page contains no results")
        return self._get_page(rows, number, self)  # type: ignore[attr-defined]


class OneQueryPageNumberPagination(PageNumberPagination):
    django_paginator_class = OneQueryPaginator
