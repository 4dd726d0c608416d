"""Figure 3, the list: GET /api/credentials/ for a user who sees 1,000 of 100,000 credentials, against values()."""

from __future__ import annotations

import io
import json
import random
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import CharField, QuerySet, UUIDField
from django.db.models.functions import Cast
from django.test import Client
from guardian.models import GroupObjectPermission, UserObjectPermission
from knox.models import AuthToken

from benchmarks.environment import BenchContext
from benchmarks.harness import FigureResult, Operation, compare, queries_of
from credentials import page_rows, selectors
from credentials.api.serializers import ROW_COLUMNS
from credentials.models import Credential, TeamManagerPermission
from credentials.permissions import CODENAMES, FLAGS, MANAGE_TEAM, FlagTest

NAME = "list"
GOAL = 2.5
URL = "/api/credentials/"
PAGE_SIZES = (100, 1000)
# A page of 1,000 takes tens of milliseconds: fewer calls keep `make bench` to a minute or two,
# and a few hundred alternating samples still settle the p50.
MAX_CALLS = {100: 400, 1000: 100}

# The population (rebuilt each run: environment.seed() truncates the credential tables it lives in).
# Credential n of POPULATION is named list-<n>, owned by owner n % OWNERS; when n % 10 < 3 it belongs
# to team (n // 10) % TEAMS; when n % 4 == 0 it is shared with group (n // 4) % SHARE_GROUPS (view, and
# use when n % 8 == 0); and two of OTHER_USERS hold a direct share of it. Other user k is a member of
# team k % TEAMS and group k % SHARE_GROUPS, and manages team k when k < TEAMS.
# The viewer is a member of team 0 (300 credentials, use only) and of groups 0 and 1 (250, of which 25
# are also team 0's), and holds direct shares of 50 of those (a second path to the same row) and of
# enough others to see VISIBLE in all.
POPULATION = 100_000
VISIBLE = 1_000
OWNERS = 100
TEAMS = 100
SHARE_GROUPS = 200
OTHER_USERS = 1_000
PREFIX = "bench-list"
DIRECT_OVERLAP = 50

# The baseline reads the same columns as the list, without the flags the permission logic adds.
BASE_COLUMNS = tuple(column for column in ROW_COLUMNS if column not in FLAGS)

_INSERT_CREDENTIALS = """
    INSERT INTO credentials_credential (id, name, type_id, environment, owner_id, team_id, description, tags,
        is_active, expires_at, allowed_hosts, public_fields, secrets_set, metadata, ciphertext, key_id, version,
        last_tested, test_status, test_message, created_by_id, updated_by_id, created_at, updated_at)
    SELECT gen_random_uuid(), 'list-' || lpad(n::text, 6, '0'), t.type_id, t.environment, o.id,
        CASE WHEN mod(n, 10) < 3 THEN (%(teams)s::integer[])[1 + mod(n / 10, %(team_count)s)] END,
        t.description, t.tags, true,
        CASE WHEN mod(n, 5) = 0 THEN now() + make_interval(days => mod(n, 730) - 365) END,
        t.allowed_hosts, t.public_fields, t.secrets_set, t.metadata, t.ciphertext, t.key_id, 1,
        NULL, '', '', o.id, o.id, now(), now()
    FROM generate_series(0, %(population)s - 1) AS n
    CROSS JOIN credentials_credential t
    JOIN LATERAL (SELECT (%(owners)s::integer[])[1 + mod(n, %(owner_count)s)] AS id) o ON true
    WHERE t.id = %(template)s
"""
# The same grants in guardian's generic tables, for the comparison: the object's key as text.
_MIRROR_USER_GRANTS = """
    INSERT INTO guardian_userobjectpermission (object_pk, content_type_id, permission_id, user_id)
    SELECT content_object_id::text, %s, permission_id, user_id FROM credentials_credentialuserpermission
"""
_MIRROR_GROUP_GRANTS = """
    INSERT INTO guardian_groupobjectpermission (object_pk, content_type_id, permission_id, group_id)
    SELECT content_object_id::text, %s, permission_id, group_id FROM credentials_credentialgrouppermission
"""
_MIRROR_MANAGERS = """
    INSERT INTO guardian_userobjectpermission (object_pk, content_type_id, permission_id, user_id)
    SELECT content_object_id::text, %s, permission_id, user_id FROM credentials_teammanagerpermission
"""
_TABLES = (
    "credentials_credential",
    "credentials_credentialuserpermission",
    "credentials_credentialgrouppermission",
    "credentials_teammanagerpermission",
    "guardian_userobjectpermission",
    "guardian_groupobjectpermission",
    "auth_user_groups",
    "auth_user",
    "auth_group",
)


@dataclass(frozen=True)
class Population:
    """The seeded viewer, an API token for them, and the ids they may see in the list's order."""

    viewer: Any
    token: str
    visible_ids: tuple[uuid.UUID, ...]
    seconds: float


def run(context: BenchContext, *, iterations: int) -> list[FigureResult]:
    population = populate(context)
    print(
        f"    {POPULATION:,} credentials for the list seeded in {population.seconds:.1f} s; "
        f"the viewer sees {len(population.visible_ids):,} of them",
        flush=True,
    )
    client = Client()
    with warnings.catch_warnings():
        # WhiteNoise warns that STATIC_ROOT was never collected: true here, and beside the point.
        warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
        client.handler.load_middleware()
    headers = {"authorization": f"Token {population.token}"}

    # The full stack a program's request takes: middleware, knox token authentication, the view,
    # the paginator's COUNT and page queries, and the JSON renderer.
    def endpoint(page_size: int) -> Operation:
        def call(number: int) -> object:
            return client.get(URL, {"page_size": page_size}, headers=headers)

        return call

    def floor(ids: tuple[uuid.UUID, ...]) -> Operation:
        def call(number: int) -> object:
            return json.dumps(list(Credential.objects.filter(pk__in=ids).values(*BASE_COLUMNS)), default=str)

        return call

    def generic(number: int) -> object:
        with generic_tables():
            return client.get(URL, {"page_size": 1000}, headers=headers)

    results = []
    for page_size in PAGE_SIZES:
        ids = population.visible_ids[:page_size]
        _check(endpoint(page_size)(0), ids)
        if len(json.loads(floor(ids)(0))) != len(ids):
            raise AssertionError(f"The baseline read fewer than {len(ids)} rows.")
        results.append(
            compare(
                name=f"list {page_size:,} (API)",
                goal=GOAL,
                op=endpoint(page_size),
                baseline=floor(ids),
                iterations=min(iterations, MAX_CALLS[page_size]),
            )
        )

    # What the direct foreign-key tables buy: the same request, with the selector's permission
    # queries reading guardian's generic tables instead; it must answer exactly the same.
    direct_body = json.loads(endpoint(1000)(0).content)
    if _check(generic(0), population.visible_ids) != direct_body:
        raise AssertionError("The list through guardian's generic tables answered differently from the direct one.")
    _check_generic_sql(queries_of(generic, 0))
    results.append(
        compare(
            name="list 1,000 (guardian generic tables)",
            goal=GOAL,
            op=generic,
            baseline=floor(population.visible_ids),
            iterations=min(iterations, MAX_CALLS[1000]),
            informational=True,
        )
    )
    return results


def _check(response: Any, ids: tuple[uuid.UUID, ...]) -> dict[str, Any]:
    """Once before timing: the endpoint answers 200 with exactly the expected rows, in order."""
    if response.status_code != 200:
        raise AssertionError(f"GET {URL} answered {response.status_code}: {response.content[:300]!r}")
    body = json.loads(response.content)
    got = [uuid.UUID(row["id"]) for row in body["results"]]
    if body["count"] != VISIBLE or got != list(ids):
        raise AssertionError(
            f"GET {URL} listed {body['count']} credentials ({len(got)} on the page); expected {VISIBLE} "
            f"({len(ids)} on the page) in the seeded order."
        )
    return body


def _check_generic_sql(queries: tuple[str, ...]) -> None:
    # The swap below names the selector's imports; if they move, fail rather than time the direct tables twice.
    sql = " ".join(queries)
    if "guardian_userobjectpermission" not in sql or "credentials_credentialuserpermission" in sql:
        raise AssertionError("The generic-tables list did not read guardian's generic tables; see generic_tables().")


# --- The population ----------------------------------------------------------------------------


def populate(context: BenchContext) -> Population:
    """Store the list's users, groups, credentials and grants, in the direct tables and the generic ones.

    The users, groups and memberships persist between runs and are reused; the credentials and
    grants are inserted again, since seed() empties the credential tables every run. Every row
    copies the columns of one credential the seed stored, ciphertext included: the list never
    decrypts, and that token is bound to its own row, so it could not be opened in another anyway.
    """
    started = time.perf_counter()
    owners = _users([f"{PREFIX}-owner-{k:03d}" for k in range(OWNERS)])
    others = _users([f"{PREFIX}-user-{k:04d}" for k in range(OTHER_USERS)])
    (viewer_id,) = _users([f"{PREFIX}-viewer"])
    teams = _groups([f"{PREFIX}-team-{k:03d}" for k in range(TEAMS)])
    share_groups = _groups([f"{PREFIX}-group-{k:03d}" for k in range(SHARE_GROUPS)])
    _memberships(viewer_id, others, teams, share_groups)

    credential_type = ContentType.objects.get_for_model(Credential)
    group_type = ContentType.objects.get_for_model(Group)
    permission = {
        codename: pk
        for codename, pk in Permission.objects.filter(
            content_type=credential_type, codename__in=CODENAMES.values()
        ).values_list("codename", "pk")
    }
    manage_team = Permission.objects.get(content_type=group_type, codename=MANAGE_TEAM).pk
    managers = [
        TeamManagerPermission(user_id=others[k], permission_id=manage_team, content_object_id=teams[k])
        for k in range(TEAMS)
    ]
    TeamManagerPermission.objects.bulk_create(managers, ignore_conflicts=True)

    with transaction.atomic(), connection.cursor() as cursor:
        # Rows left by an earlier run, should the seed ever stop truncating: children first.
        for table in ("credentials_credentialuserpermission", "credentials_credentialgrouppermission"):
            cursor.execute(
                f"DELETE FROM {table} WHERE content_object_id IN "
                "(SELECT id FROM credentials_credential WHERE name LIKE %s)",
                ["list-%"],
            )
        cursor.execute("DELETE FROM credentials_credential WHERE name LIKE %s", ["list-%"])
        cursor.execute(
            _INSERT_CREDENTIALS,
            {
                "teams": teams,
                "team_count": TEAMS,
                "owners": owners,
                "owner_count": OWNERS,
                "population": POPULATION,
                "template": context.credential_ids[0],
            },
        )
        cursor.execute("SELECT id FROM credentials_credential WHERE name LIKE %s ORDER BY name", ["list-%"])
        ids = [row[0] for row in cursor.fetchall()]
        if len(ids) != POPULATION:
            raise AssertionError(f"Seeding stored {len(ids)} list credentials instead of {POPULATION}.")

        visible, direct = _viewer_rows()
        user_rows, group_rows = _grants(ids, permission, viewer_id, others, share_groups, direct)
        _copy(cursor, "credentials_credentialuserpermission", ("user_id", "permission_id"), user_rows)
        _copy(cursor, "credentials_credentialgrouppermission", ("group_id", "permission_id"), group_rows)

        # guardian's generic tables hold nothing else in the bench database.
        cursor.execute(
            "DELETE FROM guardian_userobjectpermission WHERE content_type_id IN (%s, %s)",
            [credential_type.pk, group_type.pk],
        )
        cursor.execute("DELETE FROM guardian_groupobjectpermission WHERE content_type_id = %s", [credential_type.pk])
        cursor.execute(_MIRROR_USER_GRANTS, [credential_type.pk])
        cursor.execute(_MIRROR_GROUP_GRANTS, [credential_type.pk])
        cursor.execute(_MIRROR_MANAGERS, [group_type.pk])
    with connection.cursor() as cursor:
        # Fresh statistics, so the planner sees the tables as they now are.
        cursor.execute(f"VACUUM ANALYZE {', '.join(_TABLES)}")

    viewer = get_user_model().objects.get(pk=viewer_id)
    # One token: knox reads all of the user's tokens on every request, so old ones would slow it.
    AuthToken.objects.filter(user=viewer).delete()
    _, token = AuthToken.objects.create(user=viewer)
    return Population(
        viewer=viewer,
        token=token,
        visible_ids=tuple(ids[n] for n in sorted(visible)),
        seconds=time.perf_counter() - started,
    )


def _team_rows(team: int) -> set[int]:
    return {n for n in range(POPULATION) if n % 10 < 3 and (n // 10) % TEAMS == team}


def _group_rows(group: int) -> set[int]:
    return {n for n in range(0, POPULATION, 4) if (n // 4) % SHARE_GROUPS == group}


def _viewer_rows() -> tuple[set[int], list[int]]:
    """What the viewer sees (credential numbers), and which of them they hold a direct share of."""
    through_groups = _team_rows(0) | _group_rows(0) | _group_rows(1)
    chooser = random.Random(3)  # the same rows every run
    overlap = chooser.sample(sorted(through_groups), DIRECT_OVERLAP)
    others = [n for n in range(POPULATION) if n not in through_groups]
    fresh = chooser.sample(others, VISIBLE - len(through_groups))
    visible = through_groups | set(fresh)
    if len(visible) != VISIBLE:
        raise AssertionError(f"The viewer would see {len(visible)} credentials instead of {VISIBLE}.")
    return visible, sorted(overlap + fresh)


def _grants(
    ids: list[uuid.UUID],
    permission: dict[str, int],
    viewer_id: int,
    others: list[int],
    share_groups: list[int],
    direct: list[int],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    use, view, change = (permission[CODENAMES[action]] for action in ("use", "view", "change"))
    user_rows: list[tuple[Any, ...]] = []
    group_rows: list[tuple[Any, ...]] = []
    for n, credential_id in enumerate(ids):
        user_rows.append((others[(7 * n) % OTHER_USERS], use, credential_id))
        user_rows.append((others[(13 * n + 1) % OTHER_USERS], view, credential_id))
        if n % 4 == 0:
            group = share_groups[(n // 4) % SHARE_GROUPS]
            group_rows.append((group, view, credential_id))
            if n % 8 == 0:
                group_rows.append((group, use, credential_id))
    # The viewer's own shares: use only, use and view, or change (which implies view), in turn.
    for index, n in enumerate(direct):
        for granted in ((use,), (use, view), (change,))[index % 3]:
            user_rows.append((viewer_id, granted, ids[n]))
    return user_rows, group_rows


def _users(names: list[str]) -> list[int]:
    """The ids of these users, creating those missing (no usable password: nobody logs in as them)."""
    user_model = get_user_model()
    password = make_password(None)
    user_model.objects.bulk_create(
        [user_model(username=name, password=password) for name in names], ignore_conflicts=True
    )
    found = dict(user_model.objects.filter(username__in=names).values_list("username", "pk"))
    return [found[name] for name in names]


def _groups(names: list[str]) -> list[int]:
    Group.objects.bulk_create([Group(name=name) for name in names], ignore_conflicts=True)
    found = dict(Group.objects.filter(name__in=names).values_list("name", "pk"))
    return [found[name] for name in names]


def _memberships(viewer_id: int, others: list[int], teams: list[int], share_groups: list[int]) -> None:
    membership = get_user_model().groups.through
    membership.objects.filter(user_id=viewer_id).exclude(group_id__in=[teams[0], *share_groups[:2]]).delete()
    rows = [membership(user_id=viewer_id, group_id=group) for group in (teams[0], share_groups[0], share_groups[1])]
    for k, user_id in enumerate(others):
        rows.append(membership(user_id=user_id, group_id=teams[k % TEAMS]))
        rows.append(membership(user_id=user_id, group_id=share_groups[k % SHARE_GROUPS]))
    membership.objects.bulk_create(rows, ignore_conflicts=True)


def _copy(cursor: Any, table: str, columns: tuple[str, str], rows: Iterable[tuple[Any, ...]]) -> None:
    """Grants into a direct permission table: ``columns`` name the grantee and permission; the credential follows."""
    # COPY: a few hundred thousand grants in about a second, where bulk_create takes tens.
    data = io.StringIO("".join("\t".join(str(value) for value in row) + "\n" for row in rows))
    cursor.copy_expert(f"COPY {table} ({', '.join((*columns, 'content_object_id'))}) FROM STDIN", data)


# --- The same list through guardian's generic tables --------------------------------------------


@contextmanager
def generic_tables() -> Iterator[None]:
    """For one request, the list selector's permission queries read guardian's generic tables.

    Everything else in the request (authentication, pagination, the rows it reads and the
    output it builds) stays as it is, so the difference is the permission tables alone.
    """
    saved = selectors.visible_ids, page_rows.flag_tests
    selectors.visible_ids, page_rows.flag_tests = generic_visible_ids, generic_flag_tests
    try:
        yield
    finally:
        selectors.visible_ids, page_rows.flag_tests = saved


def _generic_grants(model: type, content_type: ContentType, codenames: list[str], **who: Any) -> QuerySet:
    # As guardian's get_objects_for_user filters its generic tables: by the permission's content type.
    return model.objects.filter(permission__content_type=content_type, permission__codename__in=codenames, **who)


def generic_visible_ids(user: Any) -> QuerySet:
    """permissions.visible_ids on guardian's generic tables, each grant's object_pk cast as guardian casts it."""
    credential_type = ContentType.objects.get_for_model(Credential)
    group_type = ContentType.objects.get_for_model(Group)
    codenames = list(CODENAMES.values())
    groups = Group.objects.filter(user=user).values("pk")
    # Integer keys: guardian compares the group's key as text rather than casting object_pk.
    manager_grants = _generic_grants(UserObjectPermission, group_type, [MANAGE_TEAM], user=user)
    managed = (
        Group.objects.annotate(str_pk=Cast("pk", CharField()))
        .filter(str_pk__in=manager_grants.values("object_pk"))
        .values("pk")
    )
    parts = [
        Credential.objects.filter(owner=user).values("pk"),
        # UUID keys: guardian casts object_pk to uuid.
        _generic_grants(UserObjectPermission, credential_type, codenames, user=user)
        .annotate(obj_pk=Cast("object_pk", UUIDField()))
        .values("obj_pk"),
        _generic_grants(GroupObjectPermission, credential_type, codenames, group__in=groups)
        .annotate(obj_pk=Cast("object_pk", UUIDField()))
        .values("obj_pk"),
        Credential.objects.filter(team__in=groups).values("pk"),
        Credential.objects.filter(team__in=managed).values("pk"),
    ]
    first, *rest = (part.order_by() for part in parts)
    return first.union(*rest)


def generic_flag_tests(user: Any) -> list[FlagTest]:
    """permissions.flag_tests on the generic tables: each grant's object_pk cast as guardian casts it for a list."""
    credential_type = ContentType.objects.get_for_model(Credential)
    group_type = ContentType.objects.get_for_model(Group)
    membership = Group.user_set.through._meta.db_table
    # As guardian's get_objects_for_user filters its generic tables: by the permission's content type and codename.
    grants = (
        "SELECT CAST(g.object_pk AS uuid) FROM {table} g JOIN auth_permission p ON p.id = g.permission_id "
        "WHERE p.content_type_id = %s AND p.codename = %s AND {who}"
    )
    user_grants = grants.format(table=UserObjectPermission._meta.db_table, who="g.user_id = %s")
    groups = f"SELECT group_id FROM {membership} WHERE user_id = %s"
    group_grants = grants.format(table=GroupObjectPermission._meta.db_table, who=f"g.group_id IN ({groups})")
    tests = [
        FlagTest(
            f"_grant_{action}",
            "id",
            f"{user_grants} UNION ALL {group_grants}",
            [credential_type.pk, codename, user.pk, credential_type.pk, codename, user.pk],
        )
        for action, codename in CODENAMES.items()
    ]
    tests.append(FlagTest("_team_member", "team_id", groups, [user.pk]))
    managed = user_grants.replace("CAST(g.object_pk AS uuid)", "CAST(g.object_pk AS integer)")
    tests.append(FlagTest("_team_manager", "team_id", managed, [group_type.pk, MANAGE_TEAM, user.pk]))
    return tests
