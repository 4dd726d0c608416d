"""Exception reports: a failure deep inside encryption shows where it happened, never the secret."""

import uuid

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.test import Client, RequestFactory, override_settings
from django.urls import path
from django.views.debug import ExceptionReporter

from config.reporting import NoValuesExceptionReporterFilter
from credentials.services import credential_create


def test_a_failure_inside_encryption_reports_no_secret(owner, monkeypatch):
    canary = f"CANARY-{uuid.uuid4().hex}"

    def failing_encrypt(self, data):
        # Like any library frame, this one holds the plaintext in its locals.
        raise RuntimeError("the cipher failed")

    monkeypatch.setattr(Fernet, "encrypt", failing_encrypt)
    request = RequestFactory().post("/admin/credentials/credential/add/", {"field__token": canary, "name": "x"})
    request.user = owner
    with pytest.raises(RuntimeError) as caught:
        credential_create(actor=owner, type_slug="github_pat", name="x", fields={"token": canary})
    error = caught.value
    reporter = ExceptionReporter(request, type(error), error, error.__traceback__)
    text, html = reporter.get_traceback_text(), reporter.get_traceback_html()
    assert "failing_encrypt" in text and "the cipher failed" in text  # the report is still useful
    assert canary not in text and canary not in html


# --- Settings and the environment: connection URLs hold passwords too -------------------------

BROKER_PASSWORD = f"broker-{uuid.uuid4().hex}"
OTHER_PASSWORD = f"other-{uuid.uuid4().hex}"
# Percent-encoded, as a password with reserved characters must be written in a URL.
ENCODED_PASSWORD = f"p%40ss%2F{uuid.uuid4().hex}"
SECRETS = (BROKER_PASSWORD, OTHER_PASSWORD, ENCODED_PASSWORD, "p@ss/")

# Settings as an operator would give them: the broker, a result backend, a cache, a database URL
# kept as a setting, and URLs under names that say nothing of secrets.
URL_SETTINGS = {
    "CELERY_BROKER_URL": f"redis://:{BROKER_PASSWORD}@redis.internal:6379/0",
    "CELERY_RESULT_BACKEND": f"redis://default:{OTHER_PASSWORD}@redis.internal:6379/1",
    "DATABASE_URL": f"postgres://latchkey:{ENCODED_PASSWORD}@db.internal:5432/latchkey",
    "CACHES": {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"redis://:{BROKER_PASSWORD}@cache.internal:6379/2",
        }
    },
    "UPSTREAM_MIRRORS": [f"https://mirror:{OTHER_PASSWORD}@mirror.example/simple", "https://public.example/simple"],
    "FAILOVER_URL": f"sentinel://:{BROKER_PASSWORD}@s1:26379;sentinel://:{BROKER_PASSWORD}@s2:26379",
    "QUERY_URL": f"redis://redis.internal:6379/0?password={OTHER_PASSWORD}&db=3",
}
# What `manage.py runserver` puts in request.META: the process's environment.
ENVIRONMENT = {
    "CELERY_BROKER_URL": URL_SETTINGS["CELERY_BROKER_URL"],
    "DATABASE_URL": URL_SETTINGS["DATABASE_URL"],
    "REDIS_URL": f"redis://:{OTHER_PASSWORD}@redis.internal:6379/0",
}


def _raising_view(request):
    broker_url = URL_SETTINGS["CELERY_BROKER_URL"]  # a local holding it, as kombu's frames would
    raise RuntimeError(f"the broker did not answer ({len(broker_url)})")


urlpatterns = [path("boom/", _raising_view)]


def _assert_no_password(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


@override_settings(DEBUG=True, ROOT_URLCONF=__name__, **URL_SETTINGS)
def test_the_debug_page_shows_no_password_of_a_broker_database_or_cache():
    response = Client(raise_request_exception=False).get("/boom/", **ENVIRONMENT)

    assert response.status_code == 500
    page = response.content.decode()
    assert "the broker did not answer" in page and "_raising_view" in page  # the technical page
    assert "CELERY_BROKER_URL" in page and "DATABASE_URL" in page and "REDIS_URL" in page
    _assert_no_password(page)


@override_settings(**URL_SETTINGS)
def test_error_reports_show_no_password_of_a_broker_database_or_cache():
    request = RequestFactory().get("/boom/", **ENVIRONMENT)
    try:
        _raising_view(request)
    except RuntimeError as error:
        reporter = ExceptionReporter(request, type(error), error, error.__traceback__)
        text, html = reporter.get_traceback_text(), reporter.get_traceback_html()
    assert "CELERY_BROKER_URL" in text and "CELERY_BROKER_URL" in html
    _assert_no_password(text)
    _assert_no_password(html)


@override_settings(**URL_SETTINGS)
def test_the_report_s_settings_keep_what_holds_no_secret():
    safe = NoValuesExceptionReporterFilter().get_safe_settings()
    _assert_no_password(repr(safe))
    assert safe["STATIC_URL"] == settings.STATIC_URL
    assert safe["LOGIN_URL"] == settings.LOGIN_URL
    assert safe["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert safe["UPSTREAM_MIRRORS"][1] == "https://public.example/simple"
    # Where a URL is shown, its host still says which server an error concerns.
    assert "mirror.example" in safe["UPSTREAM_MIRRORS"][0]
    assert "redis.internal" in safe["QUERY_URL"] and "db=3" in safe["QUERY_URL"]
