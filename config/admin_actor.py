"""The one way an admin form learns who acts and from where: ActorForm takes them, ActorAdminMixin passes them."""

from __future__ import annotations

from typing import Any, TypeVar

from django import forms
from django.http import HttpRequest

from config.actors import Actor, signed_in
from config.addresses import client_ip

F = TypeVar("F", bound=forms.BaseForm)


class ActorForm:
    """A form mixin whose ``__init__`` takes the acting user and the client's address.

    The admin's forms call the services while they validate (ModelAdmin saves as soon as
    ``is_valid()`` is true), and every service records who acted and from which address.
    Put it first in the bases, so that ``actor`` and ``ip`` are set before the form's own ``__init__``.
    """

    actor: Actor
    ip: str | None

    def __init__(self, *args: Any, actor: Actor, ip: str | None, **kwargs: Any):
        self.actor = actor
        self.ip = ip
        super().__init__(*args, **kwargs)


def form_for_request(form_class: type[F], request: HttpRequest, **kwargs: Any) -> type[F]:
    """``form_class`` (an ActorForm) whose instances get this request's user and address, and ``kwargs``.

    Admin code instantiates the class it is given (Django's ``ModelForm(request.POST, ...)``,
    guardian's ``form_class(user, obj, data)``), so the request's values travel in a subclass.
    """
    actor, ip = signed_in(request.user), client_ip(request)  # the admin lets only signed-in staff in

    # A subclass of whichever class it is given, made at run time: more than mypy can follow.
    class RequestForm(form_class):  # type: ignore[valid-type, misc]
        def __init__(self, *args: Any, **more: Any):
            super().__init__(*args, actor=actor, ip=ip, **kwargs, **more)

    RequestForm.__name__ = RequestForm.__qualname__ = form_class.__name__
    return RequestForm


class ActorAdminMixin:
    """For a ModelAdmin whose ``form`` is an ActorForm: ``get_form`` hands it the acting user and address."""

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> type:
        # A mixin for ModelAdmin, whose get_form the super() call reaches.
        return form_for_request(super().get_form(request, obj, change=change, **kwargs), request)  # type: ignore[misc]
