"""Exception reports that show where an error happened, never the values it happened with."""

import re
from collections.abc import ItemsView
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

# Settings named for a connection hold its password (a broker, a result backend, a database URL
# kept as a setting, a Sentry-style DSN): hidden whole, as Django hides *PASS* and *SECRET*.
_CONNECTION_NAMES = "BROKER|RESULT_BACKEND|DATABASE_URL|DSN"
# A URL's user information (``scheme://user:password@``; the user may be a token, and a password
# may hold an unencoded ``@``, so up to the last ``@`` before the path), wherever a URL stands.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)[^/?#\s]*@", re.IGNORECASE)
# ``name=value`` where the name says secret: a URL's query (``?password=``) or a libpq keyword string.
_SECRET_PAIR = re.compile(
    r"(?P<name>[\w.-]*(?:API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE)[\w.-]*=)[^&#;,\s]*", re.IGNORECASE
)


def hide_url_secrets(text: str, substitute: str) -> str:
    """``text`` with every URL's user information and every secret-named parameter's value replaced."""
    text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{substitute}@", text)
    return _SECRET_PAIR.sub(lambda m: f"{m['name']}{substitute}", text)


class NoValuesExceptionReporterFilter(SafeExceptionReporterFilter):
    """Every frame's locals and every POST value are hidden, in every mode.

    ``sensitive_variables`` protects only the decorated function's own frame; a secret
    handed to a library (cryptography, paramiko, a database driver) sits in that library's
    frames too. In a secrets store no local value is safe to report.

    Settings and ``request.META`` (where ``runserver`` puts the whole environment) are shown, but
    besides the names Django hides, connection settings are hidden whole, and every URL's password
    (a broker's, a cache's, a database's, under any name) is replaced, its host still shown.
    """

    hidden_settings = re.compile(f"{SafeExceptionReporterFilter.hidden_settings.pattern}|{_CONNECTION_NAMES}", re.I)

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        # Django's recursion into dicts, lists and tuples comes back here for every nested value.
        cleansed = super().cleanse_setting(key, value)
        if type(cleansed) is str:  # not a lazy object (csp's nonce in META): reading it would make it
            cleansed = hide_url_secrets(cleansed, self.cleansed_substitute)
        return cleansed

    def is_active(self, request: Any) -> bool:
        return True

    def get_post_parameters(self, request: Any) -> dict[str, str]:
        if request is None:
            return {}
        return {name: self.cleansed_substitute for name in request.POST}

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> ItemsView[str, Any]:
        return {name: self.cleansed_substitute for name in tb_frame.f_locals}.items()
