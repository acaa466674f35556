"""Tenant isolation, walked over every URL the product has.

Tenant A holds one of everything. Tenant B's admin, staff and club-limited staff then try every API
operation (from the router), every staff page (from the URL resolver) and every admin view (from the
admin registry) with A's ids. Each answer must be exactly the answer for an id that does not exist
(same status, same body once the id itself is blanked out), show nothing of A, and change nothing of A.
New viewsets, pages and admin models are walked automatically; one whose id the matrix cannot fill
fails here until A gets a row of it.
"""

import difflib
import re
import uuid

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import models
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token, TokenProxy

from connections.models import OAuthAttempt, PostingSlot, SocialConnection
from connections.tests.factories import SocialConnectionFactory
from crm.models import ApiToken, Campaign, Club, Member, MessageTemplate, Segment, StaffMembership, StaffRole, Tenant
from crm.services import staff_create
from crm.tests.factories import CampaignFactory, ClubFactory, MemberFactory, MessageTemplateFactory, SegmentFactory
from library.models import MediaAsset, PostMedia, PromotionImage
from library.tests.factories import MediaAssetFactory
from notifications.models import Notification, NotificationDelivery, NotificationPreference
from posts.models import CalendarFeed, Composition, MetricReadUsage, PostMetricSnapshot, SocialPost
from posts.tests.factories import SocialPostFactory
from promotions.models import (
    EmailEvent,
    EventPromotion,
    InboundEvent,
    PromotionDelivery,
    PromotionDispatch,
    PromotionSendChunk,
    SmsReceipt,
    Suppression,
)
from promotions.tests.factories import EventPromotionFactory
from socialcrm.api_urls import router

pytestmark = pytest.mark.django_db

MARK = "Alphaville"  # every name of tenant A carries it; it must never reach a tenant B user
OUR_APPS = {"crm", "connections", "posts", "promotions", "library", "notifications"}
# Admin models that hold no tenant's rows (operators' tables); their changelists are still searched for A.
NOT_TENANT_DATA = {
    "auth.Group", "posts.SchedulerHeartbeat", "promotions.SmsOptOut", "django_celery_beat.PeriodicTask",
    "django_celery_beat.ClockedSchedule", "django_celery_beat.CrontabSchedule", "django_celery_beat.SolarSchedule",
    "django_celery_beat.IntervalSchedule",
    # Login lockout records name no tenant: only operators see them (the admin site shows a
    # model without a tenant path to superusers alone).
    "axes.AccessAttempt", "axes.AccessLog", "axes.AccessFailureLog",
}
# Staff page arguments that are not row ids: a platform's slug, and the signed unsubscribe token
# (public by design: it names one member by a signature, not by an id).
NON_ID_ARGS = {"platform", "token"}
ONE_SHOT_PAGES = {"connections:delete", "connections:deactivate", "promotions:toggle"}
# Which model a staff page's id argument names, by URL namespace and argument.
PAGE_ARGS = {
    ("posts", "post_id"): SocialPost, ("posts", "composition_id"): Composition, ("promotions", "pk"): EventPromotion,
    ("connections", "pk"): SocialConnection, ("connections", "attempt_id"): OAuthAttempt,
    ("library", "asset_id"): MediaAsset,
    ("notifications", "pk"): Notification,
    ("campaigns", "pk"): Campaign,
}
# Every relation a request may name in a query string or body.
RELATION_PARAMS = {
    "club": Club, "campaign": Campaign, "connection": SocialConnection, "connections": SocialConnection,
    "promotion": EventPromotion, "segment": Segment, "email_template": MessageTemplate,
    "sms_template": MessageTemplate, "member": Member, "reconnect": SocialConnection, "post": SocialPost,
    "dispatch": PromotionDispatch, "tenant": Tenant, "tenant_id": Tenant, "asset": MediaAsset,
    "slot": PostingSlot,
}
A, M = "~ids-of-a~", "~missing-ids~"  # which of the two relation bodies a request sends
BIG_A, BIG_MISSING = 770000001, 880000001  # integer ids of equal length, so blanking them is exact


def _missing_id(model):
    pk = model._meta.pk
    if isinstance(pk, models.UUIDField):
        return uuid.uuid4()
    if isinstance(pk, (models.AutoField, models.BigAutoField)) or pk.is_relation:
        return BIG_MISSING
    return "missing-0001"


@pytest.fixture
def world():
    tenant = Tenant.objects.create(id="alpha-0001", name=f"{MARK} Golf Group", inbound_event_secret=f"{MARK}-secret")
    club = ClubFactory(id="alpha-club-1", tenant=tenant, name=f"{MARK} Links")
    club2 = ClubFactory(id="alpha-club-2", tenant=tenant, name=f"{MARK} Downs")
    member = MemberFactory(club=club, first_name=MARK, last_name=f"{MARK}son", email="alpha@aville.example")
    segment = SegmentFactory(tenant=tenant, club=club, name=f"{MARK} juniors")
    segment.members.add(member)
    campaign = CampaignFactory(tenant=tenant, club=club, name=f"{MARK} spring")
    email_template = MessageTemplateFactory(tenant=tenant, name=f"{MARK} mail")
    sms_template = MessageTemplateFactory(tenant=tenant, name=f"{MARK} text", channel="SMS", subject="")
    connection = SocialConnectionFactory(club=club, account_name=f"{MARK} page", tokens=(f"{MARK}-token", None))
    shared = SocialConnectionFactory(club=None, tenant=tenant, account_name=f"{MARK} shared page")
    composition = Composition.objects.create(tenant=tenant, club=club, campaign=campaign, content=f"{MARK} draft",
                                             created_by=f"{MARK}-boss")
    post = SocialPostFactory(connection=connection, campaign=campaign, content=f"{MARK} draft", composition=composition)
    failed = SocialPostFactory(connection=shared, content=f"{MARK} failed", status="FAILED", error=f"{MARK} err")
    snapshot = PostMetricSnapshot.objects.create(id=BIG_A, post=post, taken_at=timezone.now(), likes=3)
    read_usage = MetricReadUsage.objects.create(id=BIG_A, tenant=tenant, month=timezone.now().date().replace(day=1),
                                                platform="TWITTER", calls=77)
    promotion = EventPromotionFactory(club=club, event_name=f"{MARK} Medal", segment=segment, campaign=campaign,
                                      email_template=email_template, sms_template=sms_template)
    dispatch = PromotionDispatch.objects.create(tenant=tenant, promotion=promotion, kind="ANNOUNCEMENT",
                                                channel="EMAIL", scheduled_for=timezone.now())
    delivery = PromotionDelivery.objects.create(id=BIG_A, dispatch=dispatch, member=member)
    chunk = PromotionSendChunk.objects.create(id=BIG_A, dispatch=dispatch, seq=0, first_member_id=member.pk,
                                              last_member_id=member.pk, size=1)
    event = InboundEvent.objects.create(id=BIG_A, event_id=f"{MARK}-evt", tenant=tenant, type="competition.published",
                                        payload={"name": MARK}, promotion=promotion, outcome=f"{MARK} applied")
    email_event = EmailEvent.objects.create(id=BIG_A, tenant=tenant, provider="mailgun", event_id=f"{MARK}-mail-evt",
                                            event_type="BOUNCED", delivery=delivery, address=f"{MARK.lower()}@aville.example",
                                            occurred_at=timezone.now(), description=f"{MARK} mailbox gone")
    suppression = Suppression.objects.create(id=BIG_A, tenant=tenant, channel="EMAIL", address=f"{MARK.lower()}@aville.example",
                                             reason="HARD_BOUNCE", created_at=timezone.now(), source_event=email_event)
    asset = MediaAssetFactory(club=club, original_name=f"{MARK} crest.jpg", alt_text=f"{MARK} crest on the gate")
    post_media = PostMedia.objects.create(id=BIG_A, post=post, asset=asset, position=0)
    promotion_image = PromotionImage.objects.create(id=BIG_A, promotion=promotion, asset=asset)
    sms_dispatch = PromotionDispatch.objects.create(tenant=tenant, promotion=promotion, kind="ANNOUNCEMENT",
                                                    channel="SMS", scheduled_for=timezone.now())
    sms_delivery = PromotionDelivery.objects.create(dispatch=sms_dispatch, member=member, segments=2,
                                                    tracking_status="UNREACHABLE")
    sms_receipt = SmsReceipt.objects.create(id=BIG_A, tenant=tenant, event_id=f"{MARK}-sms-evt", status="PERMANENT",
                                            delivery=sms_delivery, phone="+447700900123", occurred_at=timezone.now(),
                                            description=f"{MARK} number gone")
    Suppression.objects.create(tenant=tenant, channel="SMS", address="+447700900123", reason="SMS_UNREACHABLE",
                               created_at=timezone.now(), source_receipt=sms_receipt)
    a_user = get_user_model().objects.create_user(id=BIG_A, username=f"{MARK}-boss", password="pw-123456")
    membership = StaffMembership.objects.create(id=BIG_A, user=a_user, tenant=tenant, role=StaffRole.ADMIN)
    token = Token.objects.create(user=a_user)
    slot = PostingSlot.objects.create(id=BIG_A, connection=connection, weekday=1, time="09:30")
    feed = CalendarFeed.objects.create(id=BIG_A, tenant=tenant, user=a_user, token_hash=f"{MARK}-hash".lower().ljust(64, "0"))
    attempt = OAuthAttempt.objects.create(state=f"{MARK}-state", tenant=tenant, user=a_user, session_key="s",
                                          platform="FACEBOOK", redirect_uri="http://testserver/cb")
    notification = Notification.objects.create(tenant=tenant, club=club, kind="POST_FAILED", subject=f"post:{post.pk}",
                                               occurrence=f"{MARK}-1", post=post, title=f"{MARK} post failed",
                                               message=f"{MARK} err", link="/posts/")
    notice = NotificationDelivery.objects.create(id=BIG_A, notification=notification, user=a_user, email_wanted=True)
    preference = NotificationPreference.objects.create(id=BIG_A, user=a_user, kind="POST_FAILED", email=False)

    tenant_b = Tenant.objects.create(id="beta-0001", name="Beta Group")
    club_b = ClubFactory(id="beta-club-1", tenant=tenant_b, name="Beta Links")
    club_b2 = ClubFactory(id="beta-club-2", tenant=tenant_b, name="Beta Downs")
    conn_b = SocialConnectionFactory(club=club_b, account_name="Beta page")
    composition_b = Composition.objects.create(tenant=tenant_b, club=club_b, content="Beta draft", created_by="b")
    post_b = SocialPostFactory(connection=conn_b, content="Beta draft", composition=composition_b)
    promotion_b = EventPromotionFactory(club=club_b, event_name="Beta Medal", source_type="SPECIAL")
    asset_b = MediaAssetFactory(club=club_b, original_name="beta.jpg", alt_text="Beta flag")
    MemberFactory(club=club_b, first_name="Bea")
    users = {
        "admin": staff_create(tenant_id=tenant_b.pk, username="b-admin", password="pw-123456", role=StaffRole.ADMIN)[0],
        "staff": staff_create(tenant_id=tenant_b.pk, username="b-staff", password="pw-123456")[0],
        "limited": staff_create(tenant_id=tenant_b.pk, username="b-limited", password="pw-123456",
                                club_ids=[club_b2.pk])[0],
    }
    # Who-did-what rows (one per tracked model), at ids of the same length as the missing ones.
    histories = {}
    for row in (post, promotion, connection):
        model = type(row).history.model
        model.objects.filter(pk=row.history.earliest("history_date").pk).update(history_id=BIG_A)
        histories[model] = model.objects.get(pk=BIG_A)
    membership.approver_for_clubs.add(club)
    rows = {
        **histories,
        Tenant: tenant, Club: club, Member: member, Segment: segment, Campaign: campaign,
        MessageTemplate: email_template, SocialConnection: connection, SocialPost: post, PostMetricSnapshot: snapshot,
        Composition: composition,
        MetricReadUsage: read_usage,
        EventPromotion: promotion, PromotionDispatch: dispatch, PromotionDelivery: delivery, PromotionSendChunk: chunk, InboundEvent: event,
        EmailEvent: email_event, Suppression: suppression, SmsReceipt: sms_receipt,
        StaffMembership: membership, OAuthAttempt: attempt, get_user_model(): a_user, TokenProxy: token,
        ApiToken: ApiToken.objects.get(pk=token.pk), MediaAsset: asset, PostMedia: post_media,
        PromotionImage: promotion_image,
        PostingSlot: slot, CalendarFeed: feed,
        Notification: notification, NotificationDelivery: notice, NotificationPreference: preference,
    }
    return {"a": rows, "a_extra": [club2, sms_template, shared, failed], "users": users,
            "b": {SocialPost: post_b, EventPromotion: promotion_b, SocialConnection: conn_b, MediaAsset: asset_b,
                  Composition: composition_b}}


def fingerprint():
    """Every row of tenant A's world, as stored: the walk must leave it byte for byte the same."""
    state = {}
    for app in OUR_APPS:
        for model in apps.get_app_config(app).get_models():
            state[model._meta.label] = sorted(map(repr, model.objects.values_list()))
    state["auth.User"] = sorted(map(repr, get_user_model().objects.values_list()))
    state["authtoken.Token"] = sorted(map(repr, Token.objects.values_list()))
    return state


def fingerprint_of_a(world):
    a = world["a"]
    return {label: [row for row in rows if "alpha" in row.lower()] for label, rows in fingerprint().items()} | {
        "tenant": repr(Tenant.objects.filter(pk=a[Tenant].pk).values_list().first()),
    }


CSRF = re.compile(r'(csrfmiddlewaretoken" value=|csrf_token" content=|"csrfToken": ?)"[^"]*"')
SIGNED = re.compile(r"/unsubscribe/[^/\s]+/")  # a signed token carries its own timestamp
MOMENT = re.compile(r"\d{4}-\d\d-\d\d[T ][\d:.]+(Z|[+-]\d\d:?\d\d)?")


def normalise(text, *ids):
    text = SIGNED.sub("/unsubscribe/<token>/", MOMENT.sub("<moment>", CSRF.sub(r"\1''", text)))
    for value in sorted(map(str, ids), key=len, reverse=True):
        text = text.replace(value, "<ID>")
    return text


def body_of(response):
    if response.streaming:
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def fresh(user):
    client = Client()
    client.force_login(user)
    return client


class Walk:
    """Sends each request twice, with A's id and with a missing one, and compares the answers."""

    def __init__(self, world):
        self.world = world
        self.compared = 0

    def same(self, user, method, build, a_id, missing_id, label=""):
        answers = []
        for value in (a_id, missing_id):
            url, body = build(value)
            named = {value}
            if value in (A, M):  # a body naming every relation: blank each id it names
                named |= set(relation_body(self.world, value == A).values())
            client = fresh(user)
            kwargs = {}
            if method in ("put", "patch", "post", "delete") and body is not None:
                kwargs = {"data": body}
                if url.startswith("/api/"):
                    kwargs["content_type"] = "application/json"
            response = getattr(client, method)(url, **kwargs)
            text = body_of(response)
            assert MARK not in text, f"{label} {method.upper()} {url} as {user.username} shows tenant A: {text[:400]}"
            assert response.status_code < 500, f"{label} {method.upper()} {url}: {response.status_code}"
            answers.append((response.status_code, normalise(response.get("Location", ""), *named),
                            normalise(text, *named)))
        if answers[0] != answers[1]:
            diff = "\n".join(list(difflib.unified_diff(answers[0][2].splitlines(), answers[1][2].splitlines(),
                                                       lineterm="", n=1))[:30])
            pytest.fail(f"{label} {method.upper()} as {user.username}: A's id {a_id} is told apart from a missing id "
                        f"({answers[0][:2]} vs {answers[1][:2]})\n{diff}")
        self.compared += 1


def relation_body(world, use_a):
    """A body (or query) naming every relation, either with A's ids or with missing ones (fixed per test)."""
    bodies = world.setdefault("bodies", {})
    if use_a not in bodies:
        bodies[use_a] = {name: str(world["a"][model].pk if use_a else _missing_id(model))
                         for name, model in RELATION_PARAMS.items()}
    return bodies[use_a]


# ----------------------------------------------------------------------------- API


def api_routes():
    for prefix, viewset, basename in router.registry:
        for route in router.get_routes(viewset):
            yield basename, viewset, route


def filter_params(viewset):
    """The relation filters a list declares (``?club=``, ``?campaign=`` ...), asked one at a time."""
    filterset = getattr(viewset, "filterset_class", None)
    declared = set(getattr(viewset, "filterset_fields", None) or ()) | set(filterset.base_filters if filterset else ())
    return {name: model_of for name, model_of in RELATION_PARAMS.items() if name in declared}


def test_every_api_operation_treats_tenant_a_ids_as_missing(world):
    before = fingerprint_of_a(world)
    walk = Walk(world)
    a_rel, missing_rel = relation_body(world, True), relation_body(world, False)
    for user in world["users"].values():
        for basename, viewset, route in api_routes():
            model = viewset.serializer_class.Meta.model
            name = route.name.format(basename=basename)
            for method, action in route.mapping.items():
                if not hasattr(viewset, action):
                    continue
                if route.detail:
                    a_id = world["a"].get(model)
                    assert a_id is not None, f"tenant A has no {model._meta.label} for {name}"
                    walk.same(user, method, lambda v, n=name: (reverse(n, args=[v]), {**a_rel}),
                              a_id.pk, _missing_id(model), label=name)
                    own = world["b"].get(model)
                    if own is not None and method in ("put", "patch", "post"):
                        # B's own row, with every related id in the body naming A's rows or missing ones.
                        walk.same(user, method, lambda v, n=name, o=own: (
                            reverse(n, args=[o.pk]), a_rel if v == A else missing_rel), A, M,
                            label=f"{name} (own row, A's related ids)")
                else:
                    if method == "get":
                        walk.same(user, "get", lambda v, n=name: (
                            reverse(n) + "?" + "&".join(f"{k}={(a_rel if v == A else missing_rel)[k]}"
                                                        for k in a_rel), None),
                                  A, M, label=f"{name} filters")
                        for param, model_of in filter_params(viewset).items():
                            walk.same(user, "get", lambda v, n=name, p=param: (f"{reverse(n)}?{p}={v}", None),
                                      world["a"][model_of].pk, _missing_id(model_of), label=f"{name} ?{param}=")
                    else:
                        walk.same(user, method, lambda v, n=name: (reverse(n), a_rel if v == A else missing_rel),
                                  A, M, label=f"{name} create")
    assert walk.compared > 100
    assert fingerprint_of_a(world) == before


# ----------------------------------------------------------------------------- staff pages


def staff_pages(resolver=None, namespace=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            if ns in {"admin"} or str(entry.pattern).startswith("api/"):
                continue
            yield from staff_pages(entry, ns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and entry.name:
            yield namespace, entry


def test_every_staff_page_treats_tenant_a_ids_as_missing(world):
    before = fingerprint_of_a(world)
    walk = Walk(world)
    a_rel, missing_rel = relation_body(world, True), relation_body(world, False)
    query = lambda body: "?" + "&".join(f"{k}={v}" for k, v in body.items())  # noqa: E731
    walked = set()
    for namespace, pattern in staff_pages():
        name = f"{namespace}:{pattern.name}" if namespace else pattern.name
        if name in {"media", "api-schema", "api-docs", "login", "logout"} or pattern.name == "media":
            continue
        converters = pattern.pattern.converters
        if set(converters) & NON_ID_ARGS:
            continue
        for user in world["users"].values():
            if converters:
                assert len(converters) == 1, name
                (arg,) = converters
                model = PAGE_ARGS.get((namespace, arg))
                assert model is not None, f"the matrix does not know which row {name}'s <{arg}> names"
                for method in ("get", "post"):
                    walk.same(user, method, lambda v, n=name, a=arg: (reverse(n, kwargs={a: v}), a_rel),
                              world["a"][model].pk, _missing_id(model), label=name)
                own = world["b"].get(model)
                if own is not None:
                    # Pages that remove or flip B's own row cannot be asked twice alike; their ids were walked above.
                    for method in ("get",) if name in ONE_SHOT_PAGES else ("get", "post"):
                        walk.same(user, method, lambda v, n=name, a=arg, o=own: (
                            reverse(n, kwargs={a: o.pk}) + query(a_rel if v == A else missing_rel),
                            a_rel if v == A else missing_rel), A, M, label=f"{name} (own row)")
            else:
                for method in ("get", "post"):
                    walk.same(user, method, lambda v, n=name: (
                        reverse(n) + query(a_rel if v == A else missing_rel),
                        a_rel if v == A else missing_rel), A, M, label=name)
            walked.add(name)
    assert {"posts:list", "posts:detail", "posts:composition", "posts:preview", "promotions:detail", "connections:delete", "campaigns:list",
            "library:list", "library:describe", "library:delete",
            "posts:calendar", "posts:calendar_move", "posts:calendar_feed", "connections:schedule"} <= walked
    assert fingerprint_of_a(world) == before


# ----------------------------------------------------------------------------- admin


def admin_models():
    return list(admin.site._registry.items())


def test_every_admin_view_and_filter_treats_tenant_a_ids_as_missing(world):
    before = fingerprint_of_a(world)
    walk = Walk(world)
    for model, model_admin in admin_models():
        meta = model._meta
        base = f"admin:{meta.app_label}_{meta.model_name}"
        row = world["a"].get(model)
        if row is None:
            assert meta.label in NOT_TENANT_DATA, f"tenant A has no {meta.label} for the admin walk"
        # Only B's admin gets into admin; plain staff are walked too, to see they are turned away alike.
        for user in (world["users"]["admin"], world["users"]["staff"]):
            changelist = reverse(f"{base}_changelist")
            page = fresh(user).get(changelist + f"?q={MARK.lower()}")  # search is case-blind; the echo is not
            assert MARK not in body_of(page), f"{meta.label} changelist search shows tenant A"
            if row is None:
                continue
            for view in ("change", "delete", "history"):
                for method in ("get", "post"):
                    data = {"post": "yes"} if view == "delete" else {"name": "taken over", "tenant": "beta-0001"}
                    walk.same(user, method, lambda v, b=base, vw=view, d=data: (reverse(f"{b}_{vw}", args=[v]), d),
                              row.pk, _missing_id(model), label=f"{meta.label} {view}")
            # The list-filter sidebar and its lookups, for every relation the model has.
            for field in meta.get_fields():
                if not (field.is_relation and field.concrete and field.related_model in world["a"]):
                    continue
                target = world["a"][field.related_model]
                lookup = f"{field.name}__{field.target_field.name}__exact" if field.many_to_one else f"{field.name}__pk__exact"
                walk.same(user, "get", lambda v, lk=lookup: (f"{changelist}?{lk}={v}", None),
                          target.pk, _missing_id(field.related_model), label=f"{meta.label} filter {field.name}")
    assert walk.compared > 100
    assert fingerprint_of_a(world) == before


def test_matrix_covers_every_model_of_the_product(world):
    """A new model in our apps needs a row in tenant A (or a reason it holds no tenant's data)."""
    for app in OUR_APPS:
        for model in apps.get_app_config(app).get_models():
            assert model in world["a"] or model._meta.label in NOT_TENANT_DATA, model._meta.label


def test_the_walk_can_see_tenant_a_from_inside(world):
    """The same requests by A's own admin do show A: the walk above is not blind."""
    a_admin = world["a"][get_user_model()]
    a_admin.is_staff = True
    a_admin.save()
    staff_create(tenant_id="alpha-0001", username=a_admin.username, password="pw-123456", role=StaffRole.ADMIN)
    a_admin.refresh_from_db()
    client = fresh(a_admin)
    assert MARK in body_of(client.get(reverse("admin:crm_member_changelist")))
    assert MARK in body_of(client.get(reverse("posts:list")))
    assert MARK in body_of(client.get(reverse("post-list")))
    assert MARK in body_of(client.get(reverse("library:list")))
    assert MARK in body_of(client.get(reverse("media-list")))
    assert MARK in body_of(client.get(reverse("composition-list")))
    composition = world["a"][Composition]
    assert MARK in body_of(client.get(reverse("posts:composition", args=[composition.pk])))
    assert MARK in body_of(client.get(reverse("notification-list")))
    assert MARK in body_of(client.get(reverse("admin:notifications_notification_changelist")))
    assert MARK in body_of(client.get(reverse("campaigns:list")))  # the banner, on any staff page
