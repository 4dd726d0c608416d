"""The events people can be told about: their names (as webhooks send them), words, and who hears them by default."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class EventKind(models.TextChoices):
    EXPIRING = "credential.expiring", "Credential expiring"
    EXPIRED = "credential.expired", "Credential expired"
    TEST_FAILING = "credential.test_failing", "Credential's tests failing"
    TEST_RECOVERED = "credential.test_recovered", "Credential's tests passing again"
    SECRET_CHANGED = "credential.secret_changed", "Secret changed"
    ROLLED_BACK = "credential.rolled_back", "Secret rolled back"
    SHARED = "credential.shared", "Credential shared"
    UNSHARED = "credential.unshared", "Credential unshared"
    ACCESS_REQUESTED = "access.requested", "Access requested"
    ACCESS_APPROVED = "access.approved", "Access request approved"
    ACCESS_DENIED = "access.denied", "Access request denied"
    GRANT_ENDING = "access.grant_ending", "Access about to end"
    PLUGIN_SYNC_FAILED = "plugin.sync_failed", "Plugin sync failed"
    AUDIT_VERIFICATION_FAILED = "audit.verification_failed", "Audit trail verification failed"
    WEBHOOK_DISABLED = "webhook.disabled", "Webhook endpoint disabled"
    WEBHOOK_TEST = "webhook.test", "Test event"


class Scope(models.TextChoices):
    MINE = "mine", "Mine: credentials I own or whose team I manage, and what is addressed to me"
    VISIBLE = "visible", "Every credential I may see"


class EmailMode(models.TextChoices):
    OFF = "off", "No e-mail"
    IMMEDIATE = "immediate", "An e-mail for each"
    DIGEST = "digest", "In the daily digest"


@dataclass(frozen=True)
class Preference:
    """How one event reaches one person: for which credentials, by e-mail (each or in a digest), to their webhooks."""

    scope: str
    email: str
    webhook: bool

    @property
    def is_off(self) -> bool:
        return self.email == EmailMode.OFF and not self.webhook


_ON = Preference(Scope.MINE, EmailMode.IMMEDIATE, False)
_OFF = Preference(Scope.MINE, EmailMode.OFF, False)

# What a person hears before choosing: owners (and their team's managers) hear of expiry and failures,
# and everyone hears what is addressed to them (a request to approve, a decision, a grant ending).
DEFAULTS: dict[str, Preference] = {
    EventKind.EXPIRING: _ON,
    EventKind.EXPIRED: _ON,
    EventKind.TEST_FAILING: _ON,
    EventKind.TEST_RECOVERED: _ON,
    EventKind.SECRET_CHANGED: _OFF,
    EventKind.ROLLED_BACK: _OFF,
    EventKind.SHARED: _OFF,
    EventKind.UNSHARED: _OFF,
    EventKind.ACCESS_REQUESTED: _ON,
    EventKind.ACCESS_APPROVED: _ON,
    EventKind.ACCESS_DENIED: _ON,
    EventKind.GRANT_ENDING: _ON,
    EventKind.PLUGIN_SYNC_FAILED: _ON,
    EventKind.AUDIT_VERIFICATION_FAILED: _ON,
    EventKind.WEBHOOK_DISABLED: _ON,
}
# The events a person subscribes to (the test event goes to one endpoint, when its owner asks).
SUBSCRIBABLE = tuple(DEFAULTS)
# Events about no credential: their "mine" is whom they are addressed to (administrators, an endpoint's owners).
WITHOUT_CREDENTIAL = (EventKind.AUDIT_VERIFICATION_FAILED, EventKind.WEBHOOK_DISABLED, EventKind.WEBHOOK_TEST)

# One sentence per event, for e-mails and the digest; the facts fill it in.
SENTENCES: dict[str, str] = {
    EventKind.EXPIRING: "expires in {days} day(s), at {expires_at}.",
    EventKind.EXPIRED: "expired at {expires_at}; nothing can use it until it is given a new expiry.",
    EventKind.TEST_FAILING: "has failed its test {failures} times in a row.",
    EventKind.TEST_RECOVERED: "passed its test again, after {failures} failures in a row.",
    EventKind.SECRET_CHANGED: "has a new secret (version {version}; changed: {changed}).",
    EventKind.ROLLED_BACK: "was rolled back to version {restored_from}, now version {version}.",
    EventKind.SHARED: "was shared with {grantee_name}: {permissions}.",
    EventKind.UNSHARED: "is no longer shared with {grantee_name}: {permissions}.",
    EventKind.ACCESS_REQUESTED: "{requester} asks for {permission} for {hours} hours.",
    EventKind.ACCESS_APPROVED: "Your request for {permission} was approved, until {grant_expires_at}.",
    EventKind.ACCESS_DENIED: "Your request for {permission} was denied.",
    EventKind.GRANT_ENDING: "Your {permission} ends at {expires_at}.",
    EventKind.PLUGIN_SYNC_FAILED: "The sync of plugin {plugin_name} failed; its page says why.",
    EventKind.AUDIT_VERIFICATION_FAILED: "verify_audit_chain found {breaks} break(s); the first: {first}",
    EventKind.WEBHOOK_DISABLED: "Webhook endpoint {endpoint_name} was disabled: {reason}",
    EventKind.WEBHOOK_TEST: "A test event, sent because someone asked for one.",
}
