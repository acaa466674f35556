"""One way of writing dates and times for staff: the year only outside the current one, the club's
clock, and a 24-hour or 12-hour clock by the club's date and time style."""

import datetime
import importlib
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.template import Context, Template
from django.utils import timezone

from crm import dates

UTC = datetime.UTC
ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def club(zone="Europe/London", style="en-GB"):
    return SimpleNamespace(timezone=zone, time_locale=style)


# ----------------------------------------------------------------------------- the formatter


def test_a_moment_in_the_current_year_has_no_year():
    assert dates.format_moment(datetime.datetime(2026, 3, 14, 9, 0, tzinfo=UTC), club(), now=NOW) == "Sat 14 Mar, 09:00"


def test_a_moment_in_another_year_shows_the_year():
    assert dates.format_moment(datetime.datetime(2027, 3, 14, 9, 0, tzinfo=UTC), club(), now=NOW) == \
        "Sun 14 Mar 2027, 09:00"
    assert dates.format_moment(datetime.datetime(2025, 12, 31, 23, 5, tzinfo=UTC), club(), now=NOW) == \
        "Wed 31 Dec 2025, 23:05"


def test_the_current_year_is_the_clubs_not_utcs():
    # 31 Dec 2026 20:00 UTC is already 1 Jan 2027 in Auckland; "now" there is 2027 too.
    auckland = club("Pacific/Auckland")
    new_year_eve = datetime.datetime(2026, 12, 31, 20, 0, tzinfo=UTC)
    assert dates.format_moment(new_year_eve, auckland, now=new_year_eve) == "Fri 1 Jan, 09:00"
    assert dates.format_moment(new_year_eve, club("UTC"), now=new_year_eve) == "Thu 31 Dec, 20:00"


@pytest.mark.parametrize("style", ["en-GB", "en-IE"])
def test_a_24_hour_style(style):
    at = datetime.datetime(2026, 6, 1, 20, 30, tzinfo=UTC)
    assert dates.format_moment(at, club("UTC", style), now=NOW) == "Mon 1 Jun, 20:30"


@pytest.mark.parametrize("style", ["en-US", "en-AU"])
def test_a_12_hour_style(style):
    c = club("UTC", style)
    assert dates.format_moment(datetime.datetime(2026, 6, 1, 9, 0, tzinfo=UTC), c, now=NOW) == "Mon 1 Jun, 9:00 am"
    assert dates.format_moment(datetime.datetime(2026, 6, 1, 21, 30, tzinfo=UTC), c, now=NOW) == "Mon 1 Jun, 9:30 pm"
    assert dates.format_moment(datetime.datetime(2026, 6, 1, 0, 5, tzinfo=UTC), c, now=NOW) == "Mon 1 Jun, 12:05 am"
    assert dates.format_moment(datetime.datetime(2026, 6, 1, 12, 0, tzinfo=UTC), c, now=NOW) == "Mon 1 Jun, 12:00 pm"


def test_daylight_saving_is_the_clubs():
    london = club("Europe/London")
    # 09:00 on the club's clock is 09:00 UTC in winter (GMT) and 08:00 UTC in summer (BST).
    assert dates.format_moment(datetime.datetime(2026, 1, 15, 9, 0, tzinfo=UTC), london, now=NOW) == "Thu 15 Jan, 09:00"
    assert dates.format_moment(datetime.datetime(2026, 7, 15, 8, 0, tzinfo=UTC), london, now=NOW) == "Wed 15 Jul, 09:00"
    # Either side of the spring-forward gap (29 March 2026, 01:00 UTC).
    assert dates.format_moment(datetime.datetime(2026, 3, 29, 0, 59, tzinfo=UTC), london, now=NOW) == "Sun 29 Mar, 00:59"
    assert dates.format_moment(datetime.datetime(2026, 3, 29, 1, 0, tzinfo=UTC), london, now=NOW) == "Sun 29 Mar, 02:00"
    # New York, 12-hour: US clocks change on 14 March 2027.
    ny = club("America/New_York", "en-US")
    assert dates.format_moment(datetime.datetime(2027, 3, 14, 13, 0, tzinfo=UTC), ny, now=NOW) == \
        "Sun 14 Mar 2027, 9:00 am"
    assert dates.format_moment(datetime.datetime(2027, 3, 13, 13, 0, tzinfo=UTC), ny, now=NOW) == \
        "Sat 13 Mar 2027, 8:00 am"


def test_days_clocks_and_headings():
    assert dates.format_day(datetime.date(2026, 3, 14), club(), now=NOW) == "Sat 14 Mar"
    assert dates.format_day(datetime.date(2027, 3, 14), club(), now=NOW) == "Sun 14 Mar 2027"
    assert dates.format_clock(datetime.time(18, 30), club(style="en-US")) == "6:30 pm"
    assert dates.format_clock(datetime.time(18, 30), club()) == "18:30"
    assert dates.format_month(datetime.date(2027, 3, 1)) == "March 2027"
    assert dates.format_moment(None, club()) == "" and dates.format_day(None) == ""


def test_pickers_prefill_and_read_the_clubs_clock():
    london = club("Europe/London")
    assert dates.picker_value(datetime.datetime(2026, 7, 15, 8, 0, tzinfo=UTC), london) == "2026-07-15T09:00"
    assert dates.parse_picker("2026-07-15T09:00") == datetime.datetime(2026, 7, 15, 9, 0)
    assert dates.parse_picker("2026-07-15T09:00:00") == datetime.datetime(2026, 7, 15, 9, 0)
    assert dates.parse_picker("15/07/2026") is None and dates.parse_picker(None) is None


def test_a_row_without_a_club_uses_the_active_zone_and_the_tenants_style():
    at = datetime.datetime(2026, 7, 15, 8, 0, tzinfo=UTC)
    token = dates.activate(lambda: "en-US")
    try:
        with timezone.override("Europe/London"):
            assert dates.format_moment(at, None, now=NOW) == "Wed 15 Jul, 9:00 am"
    finally:
        dates.deactivate(token)
    with timezone.override("Europe/London"):
        assert dates.format_moment(at, None, now=NOW) == "Wed 15 Jul, 09:00"  # no tenant: the default style


def test_the_template_filters_call_the_formatter():
    at = datetime.datetime(2027, 3, 14, 13, 0, tzinfo=UTC)
    html = Template("{% load club_dates %}{{ at|moment:c }}|{{ at|clock:c }}|{{ at|picker:c }}|{{ at|iso_day:c }}"
                    "|{{ day|weekday }}|{{ day|month_heading }}").render(
        Context({"at": at, "c": club("America/New_York", "en-US"), "day": datetime.date(2027, 3, 14)}))
    assert html == "Sun 14 Mar 2027, 9:00 am|9:00 am|2027-03-14T09:00|2027-03-14|Sun|March 2027"


# ----------------------------------------------------------------------------- one format, kept single


TEMPLATE_DIRS = [ROOT / "templates"] + [p for p in ROOT.glob("*/templates") if p.is_dir()]
STRAY_TEMPLATE = re.compile(r"\|\s*(date|time)\s*(:|\}|\|)")


def test_no_template_formats_a_date_itself():
    stray = []
    for folder in TEMPLATE_DIRS:
        for path in folder.rglob("*.html"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if STRAY_TEMPLATE.search(line) or "{% now" in line:
                    stray.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert stray == [], "Write dates with the club_dates filters (crm/dates.py):\n" + "\n".join(stray)


# Machine formats that are not for people to read, each with its reason.
ALLOWED_PY_FORMATS = {
    "crm/dates.py",  # the one place
    "socialcrm/observability.py",  # log lines (ISO 8601)
    "socialcrm/inputs.py",  # the accepted range in error messages, the same words for the API and pages (ISO dates)
}
STRAY_PY = re.compile(r"strftime\(|\{[^{}]*:%[a-zA-Z]")


def test_no_page_view_or_model_formats_a_date_itself():
    stray = []
    for app in ("crm", "connections", "posts", "promotions", "socialcrm"):
        for path in (ROOT / app).rglob("*.py"):
            relative = str(path.relative_to(ROOT))
            if "/tests/" in relative or "/migrations/" in relative or relative in ALLOWED_PY_FORMATS:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if STRAY_PY.search(line) and "%Y-%m}" not in line:  # a month key in a row's name
                    stray.append(f"{relative}:{number}: {line.strip()[:120]}")
    assert stray == [], "Write dates with crm.dates:\n" + "\n".join(stray)


def test_charts_take_their_time_labels_from_the_server():
    script = (ROOT / "static/js/posts-chart.js").read_text()
    assert "toLocale" not in script and "d.label" in script


# ----------------------------------------------------------------------------- the migration


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_clubs_and_tenants_the_24_hour_style():
    importlib.import_module("crm.migrations.0005_time_locale_and_campaign_day_range")
    before = [("crm", "0004_tenant_metrics_monthly_read_budget")]
    after = [("crm", "0005_time_locale_and_campaign_day_range")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    tenant = old_apps.get_model("crm", "Tenant").objects.create(id="t-style", name="T")
    old_apps.get_model("crm", "Club").objects.create(id="c-style", tenant=tenant, name="C", timezone="Europe/London")
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new_apps = executor.loader.project_state(after).apps
        assert new_apps.get_model("crm", "Club").objects.get(pk="c-style").time_locale == "en-GB"
        assert new_apps.get_model("crm", "Tenant").objects.get(pk="t-style").time_locale == "en-GB"
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_every_admin_writes_times_as_the_staff_pages_do():
    from django.contrib import admin

    from crm.admin_dates import ClubTimesAdminMixin, time_field_names

    with_times = [m for m, a in admin.site._registry.items() if time_field_names(m)]
    assert with_times
    for model, model_admin in admin.site._registry.items():
        assert isinstance(model_admin, ClubTimesAdminMixin), model._meta.label
        for name in time_field_names(model):
            assert model_admin.club_times([name]) != [name], f"{model._meta.label}.{name}"
