"""Issue 10, "Output": a Content-Security-Policy on every page, nothing inline in the templates, and
every staff- or event-supplied text escaped where it is shown."""

import re
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import CampaignFactory, ClubFactory, StaffFactory
from library.tests.factories import MediaAssetFactory
from posts.models import Composition
from posts.tests.factories import SocialPostFactory
from promotions.planning import promotion_plan
from promotions.tests.factories import EventPromotionFactory

XSS = '"><img src=x onerror=window.__xss=1>'
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>\s*[^<\s]", re.I)
ESCAPED = "&quot;&gt;&lt;img src=x onerror=window.__xss=1&gt;"
TEMPLATES = Path(settings.BASE_DIR) / "templates"

pytestmark = pytest.mark.django_db


# ReDoc writes <style> elements at run time; its page alone lets inline styles in (never scripts).
INLINE_STYLES_ALLOWED = {"/api/redoc/"}


def policy_of(response):
    header = response.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']} has no Content-Security-Policy"
    return {d.split()[0]: d.split()[1:] for d in (part.strip() for part in header.split(";")) if d}


def assert_strict(response):
    policy = policy_of(response)
    path = response.request["PATH_INFO"]
    script_src = policy.get("script-src", policy.get("default-src"))
    assert script_src == ["'self'"], (path, script_src)
    style_src = policy.get("style-src", policy.get("default-src"))
    if path not in INLINE_STYLES_ALLOWED:
        assert style_src == ["'self'"], (path, style_src)
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"], path
    assert policy["base-uri"] == ["'self'"] and policy["default-src"] == ["'self'"], path
    return policy


# The HTML email shown in the preview's sandboxed frame is a document of its own: nothing may run or
# load in it, it may carry the inline styles mail programs need, and only our pages may frame it.
OWN_DOCUMENTS = {"promotions:preview_email"}


def assert_email_document(response):
    policy = policy_of(response)
    assert policy["default-src"] == ["'none'"] and "script-src" not in policy, policy
    assert policy["frame-ancestors"] == ["'self'"] and policy["base-uri"] == ["'none'"], policy
    assert response["X-Frame-Options"] == "SAMEORIGIN"


# --------------------------------------------------------------------------- the policy on every page


def staff_routes(patterns=None, prefix="", namespace=""):
    """(route, name) of every staff-facing URL pattern: all but the admin (tested apart) and the JSON API."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route.startswith(("admin/", "api/v1/")):
                continue
            ns = ":".join(filter(None, [namespace, pattern.namespace]))
            yield from staff_routes(pattern.url_patterns, route, ns)
        elif isinstance(pattern, URLPattern):
            yield route, ":".join(filter(None, [namespace, pattern.name]))


@pytest.fixture
def tenant_admin_world(client):
    club = ClubFactory(name="Heathland GC")
    user = StaffFactory(tenant=club.tenant, role="ADMIN", user__username="pat").user
    connection = SocialConnectionFactory(club=club)
    composition = Composition.objects.create(tenant=club.tenant, club=club, content="For two accounts", created_by="pat")
    post = SocialPostFactory(connection=connection, composition=composition)
    SocialPostFactory(connection=SocialConnectionFactory(club=club, platform="TWITTER"), composition=composition)
    promotion = EventPromotionFactory(club=club)
    promotion_plan(promotion=promotion)
    campaign = CampaignFactory(tenant=club.tenant)
    asset = MediaAssetFactory(club=club)
    client.force_login(user)
    return {"connection": connection, "post": post, "promotion": promotion, "asset": asset, "composition": composition,
            "campaign": campaign}


def test_every_staff_page_carries_a_strict_policy(client, tenant_admin_world):
    world = tenant_admin_world
    # Arguments for the routes that take some; a new route without an entry here fails the test.
    kwargs = {
        "connections:connect": {"platform": "facebook"},
        "connections:callback": {"platform": "facebook"},
        "connections:pick": {"attempt_id": uuid.uuid4()},
        "connections:deactivate": {"pk": world["connection"].pk},
        "connections:delete": {"pk": world["connection"].pk},
        "connections:detail": {"pk": world["connection"].pk},
        "connections:schedule": {"pk": world["connection"].pk},
        "posts:calendar_ics": {"token": "not-a-token"},
        "posts:detail": {"post_id": world["post"].pk},
        "posts:action": {"post_id": world["post"].pk},
        "posts:delete": {"post_id": world["post"].pk},
        "posts:composition": {"composition_id": world["composition"].pk},
        "promotions:detail": {"pk": world["promotion"].pk},
        "promotions:edit": {"pk": world["promotion"].pk},
        "promotions:toggle": {"pk": world["promotion"].pk},
        "promotions:preview": {"pk": world["promotion"].pk},
        "promotions:preview_email": {"pk": world["promotion"].pk},
        "promotions:unsubscribe": {"token": "not-a-token"},
        "promotions:report-csv": {"pk": world["promotion"].pk},
        "campaigns:detail": {"pk": world["campaign"].pk},
        "campaigns:report-csv": {"pk": world["campaign"].pk},
        "media": {"path": "missing.jpg"},
        "library:describe": {"asset_id": world["asset"].pk},
        "library:delete": {"asset_id": world["asset"].pk},
        "notifications:dismiss": {"pk": uuid.uuid4()},
    }
    must_render = {"dashboard", "connections:list", "connections:delete", "connections:detail", "connections:deactivate", "posts:list", "posts:compose",
                   "posts:calendar", "posts:calendar_feed", "connections:schedule", "posts:detail", "posts:delete", "promotions:list", "promotions:create", "promotions:settings",
                   "promotions:detail", "promotions:edit", "promotions:preview", "promotions:preview_email", "campaigns:list", "campaigns:detail", "api-docs",
                   "api-redoc", "library:list", "library:delete",
                   "notifications:settings"}
    seen = set()
    for route, name in staff_routes():
        if name == "logout":
            continue  # GET is refused, and a POST would end the session the walk needs
        url = reverse(name, kwargs=kwargs[name]) if "<" in route else reverse(name)
        response = client.get(url)
        assert response.status_code < 500, (url, response.status_code)
        if name in must_render:
            assert response.status_code == 200, (url, response.status_code)
        if name in OWN_DOCUMENTS:
            assert_email_document(response)
        else:
            assert_strict(response)
        seen.add(name)
    assert must_render <= seen


def test_login_and_error_pages_carry_the_policy(client):
    assert_strict(client.get(reverse("login")))
    assert_strict(client.get("/no-such-page/"))
    assert_strict(client.get(reverse("dashboard")))  # the redirect to the login page
    assert_strict(client.get("/", HTTP_HOST="evil.example"))  # refused by the host check, before any view


def test_admin_pages_carry_the_policy(admin_client, tenant_admin_world):
    promotion = tenant_admin_world["promotion"]
    for url in [reverse("admin:index"), reverse("admin:promotions_eventpromotion_changelist"),
                reverse("admin:promotions_eventpromotion_change", args=[promotion.pk]),
                reverse("admin:posts_socialpost_add"), reverse("admin:jsi18n")]:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert_strict(response)


def served(client, src):
    """Whether the app itself serves ``src`` (static files through the finders, as in production after collectstatic)."""
    if src.startswith(settings.STATIC_URL):
        return finders.find(src.removeprefix(settings.STATIC_URL)) is not None
    return client.get(src).status_code == 200


def test_api_docs_are_served_by_the_app_with_no_inline_script(client, tenant_admin_world):
    docs = client.get(reverse("api-docs"))
    html = docs.content.decode()
    assert_strict(docs)
    assert not INLINE_SCRIPT.search(html), "Swagger UI's start-up script must be its own URL"
    assert "<style" not in html and "cdn.jsdelivr.net" not in html and "fonts.googleapis" not in html
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources and all(src.startswith("/") and not src.startswith("//") for src in sources), sources
    assert all(served(client, src) for src in sources), sources
    init = client.get(re.search(r'<script src="([^"]+script[^"]*)"', html).group(1).replace("&amp;", "&"))
    assert init["Content-Type"].startswith("application/javascript") and b"SwaggerUIBundle" in init.content

    redoc = client.get(reverse("api-redoc"))
    html = redoc.content.decode()
    assert_strict(redoc)
    assert not INLINE_SCRIPT.search(html) and "<style" not in html and "fonts.g" not in html
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert any("redoc.standalone.js" in src for src in sources)
    assert all(src.startswith("/") and served(client, src) for src in sources), sources


def test_form_action_allows_the_configured_consent_dialogs_and_nothing_else(client, settings):
    settings.FACEBOOK_DIALOG_URL = "http://127.0.0.1:8123"
    settings.X_AUTHORIZE_URL = "http://127.0.0.1:8124/i/oauth2/authorize"
    settings.LINKEDIN_OAUTH_URL = "http://127.0.0.1:8125/oauth/v2"
    form_action = policy_of(client.get(reverse("login")))["form-action"]
    assert sorted(form_action) == ["'self'", "http://127.0.0.1:8123", "http://127.0.0.1:8124",
                                   "http://127.0.0.1:8125"]


# --------------------------------------------------------------------------- nothing inline in the templates

INLINE = [
    ("an inline <script> with a body", INLINE_SCRIPT),
    ("a <style> block", re.compile(r"<style[\s>]", re.I)),
    ("a style= attribute", re.compile(r"\sstyle\s*=", re.I)),
    ("an inline event handler", re.compile(r"\son[a-z]+\s*=", re.I)),
    ("a javascript: URL", re.compile(r"javascript:", re.I)),
]
# Emails are not pages: they are sent, or shown through the preview's own email document.
NOT_PAGES = {"emails"}
PENDING = set()


def test_no_template_has_inline_script_style_or_handlers():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = path.relative_to(TEMPLATES).as_posix()
        if name.split("/")[0] in NOT_PAGES or name in PENDING:
            continue
        text = path.read_text()
        found += [f"{name}: {what}" for what, pattern in INLINE if pattern.search(text)]
    assert not found, "\n".join(found)


# --------------------------------------------------------------------------- staff- and event-supplied text


def test_hostile_names_and_texts_are_escaped_on_every_page_that_shows_them(client):
    club = ClubFactory(name=XSS)
    other = ClubFactory(tenant=club.tenant, name="Second club")
    client.force_login(StaffFactory(tenant=club.tenant, role="ADMIN").user)
    campaign = CampaignFactory(tenant=club.tenant, name=XSS)
    connection = SocialConnectionFactory(club=club, account_name=XSS, last_error=XSS)
    post = SocialPostFactory(connection=connection, content=XSS, campaign=campaign, status="FAILED", error=XSS)
    promotion = EventPromotionFactory(club=club, event_name=XSS, event_location=XSS, campaign=campaign)
    promotion_plan(promotion=promotion)
    assert other.pk

    pages = {
        "dashboard": reverse("dashboard"),
        "connections": reverse("connections:list"),
        "connection delete": reverse("connections:delete", args=[connection.pk]),
        "posts": reverse("posts:list"),
        "post": reverse("posts:detail", args=[post.pk]),
        "composer": reverse("posts:compose"),
        "campaigns": reverse("campaigns:list"),
        "promotions": reverse("promotions:list"),
        "promotion": reverse("promotions:detail", args=[promotion.pk]),
        "promotion edit": reverse("promotions:edit", args=[promotion.pk]),
    }
    for label, url in pages.items():
        html = client.get(url).content.decode()
        assert "<img src=x" not in html, label
        assert ESCAPED in html or "&quot;&gt;&lt;img" in html, label


def test_message_preview_follows_the_picked_step_with_no_script_copying_it(client):
    club = ClubFactory()
    client.force_login(StaffFactory(tenant=club.tenant).user)
    promotion = EventPromotionFactory(club=club, reminder_days=[1])
    # The hidden kind/days still hold the previous step: the picker's own value must win.
    response = client.get(reverse("promotions:preview", args=[promotion.pk]),
                          {"step": "REMINDER:1", "kind": "ANNOUNCEMENT", "days": "0"})
    assert response.status_code == 200
    assert response.context["kind"] == "REMINDER" and response.context["days_before"] == 1
    assert client.get(reverse("promotions:preview", args=[promotion.pk]), {"step": "NONSENSE:x"}).status_code == 200
