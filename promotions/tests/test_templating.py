import datetime
import importlib
import pathlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from jinja2.exceptions import SecurityError, UndefinedError

from crm.tests.factories import ClubFactory, MemberFactory
from promotions import messages, templating
from promotions.templating import EMAIL, MERGE_FIELDS, SMS, SOCIAL, TemplateRefused
from promotions.tests.factories import EventPromotionFactory

convert = importlib.import_module("crm.migrations.0003_message_templates_in_sandbox")
social = importlib.import_module("promotions.migrations.0004_social_text_is_a_template")

EXAMPLES = {field.name: field.example for field in MERGE_FIELDS}


def test_the_standard_messages_follow_the_rules_they_impose():
    for source, place in [(messages.DEFAULT_EMAIL_SUBJECT, EMAIL), (messages.DEFAULT_EMAIL_BODY, EMAIL),
                          (messages.DEFAULT_SMS, SMS), (messages.DEFAULT_SOCIAL, SOCIAL)]:
        assert templating.template_problems(source, place=place) == []


@pytest.mark.django_db
def test_the_values_given_to_templates_are_exactly_the_documented_merge_fields_as_plain_values():
    promotion = EventPromotionFactory(club=ClubFactory())
    member = MemberFactory(club=promotion.club)
    fields = {**messages.event_fields(promotion=promotion, kind="REMINDER", days_before=3),
              **messages.member_fields(member), "unsubscribe_url": "https://example.com/u"}
    assert set(fields) == {field.name for field in MERGE_FIELDS}
    assert all(type(value) in (str, int) for value in fields.values())


def test_the_sandbox_refuses_attributes_and_calls_even_past_the_check():
    # The check in front of it is the first wall; this is the second.
    env = templating._ENV
    with pytest.raises((SecurityError, UndefinedError)):
        env.from_string("{{ name.__class__ }}").render(name="x")
    with pytest.raises((SecurityError, UndefinedError)):
        env.from_string("{{ name.upper() }}").render(name="x")
    assert env.globals == {} and "attr" not in env.filters and "safe" not in env.filters


def test_a_problem_names_the_line_and_the_construct():
    [problem] = templating.template_problems("Hi\n{{ member.first_name }}", place=EMAIL)
    assert problem.startswith("Line 2:") and "member.first_name" in problem
    [problem] = templating.template_problems("{{ unsubscribe_url }}", place=SMS)
    assert "unsubscribe_url" in problem and "not available in a text message" in problem
    [problem] = templating.template_problems("{% if days_before > event_name %}x{% endif %}", place=SOCIAL)
    assert "could not be rendered" in problem  # a trial run on example values catches what parsing cannot


def test_render_refuses_what_validation_refuses():
    with pytest.raises(TemplateRefused):
        templating.render("{{ club.tenant.inbound_event_secret }}", EXAMPLES, place=EMAIL)
    assert templating.render("{{ event_name|upper }}{% raw %}{{ x }}{% endraw %}", EXAMPLES, place=SOCIAL) == \
        "CLUB CHAMPIONSHIP{{ x }}"


def test_django_templates_are_rewritten_into_merge_fields():
    old = ('{% autoescape off %}Hello {{ member.first_name|capfirst }} {{ member }},{% comment %}draft{% endcomment %}\n'
           '{{ event.name|default:"our event" }} on {{ event.starts_at|date:"l j F Y" }} at '
           '{{ promotion.event_starts_at|date:"H:i" }}{% if event.location %} at {{ event.location }}{% endif %}'
           ' - {{ club.name }} ({{ club }}) {{ event_starts_local }} {{ unsubscribe_url }}{% endautoescape %}')
    new = convert.django_to_jinja(old)
    assert new == ('Hello {{ first_name|capitalize }} {{ member_name }},{#draft#}\n'
                   '{{ event_name|default("our event") }} on {{ event_date }} at {{ event_time }}'
                   '{% if event_location %} at {{ event_location }}{% endif %} - {{ club_name }} ({{ club_name }}) '
                   '{{ event_starts_local }} {{ unsubscribe_url }}')
    # A walk the rewrite cannot honour is left as written, so the sandbox refuses it.
    assert convert.django_to_jinja("{{ promotion.tenant.inbound_event_secret }}") == \
        "{{ promotion.tenant.inbound_event_secret }}"


def test_social_text_written_before_keeps_its_braces():
    text = "Prizes {{ for }} all {% really %} {# yes #} }}"
    kept = social.keep_literal(text)
    assert templating.template_problems(kept, place=SOCIAL) == []
    assert templating.render(kept, EXAMPLES, place=SOCIAL) == text


def test_every_merge_field_is_documented_in_the_readme():
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    for field in MERGE_FIELDS:
        assert f"`{{{{ {field.name} }}}}`" in readme


@pytest.mark.django_db(transaction=True)
def test_the_migration_rewrites_stored_templates_and_social_text():
    executor = MigrationExecutor(connection)
    before = [("crm", "0002_apitoken"), ("promotions", "0003_inbound_event_id_unique_per_tenant")]
    after = [("crm", "0003_message_templates_in_sandbox"), ("promotions", "0004_social_text_is_a_template")]
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    Tenant, Club = old_apps.get_model("crm", "Tenant"), old_apps.get_model("crm", "Club")
    tenant = Tenant.objects.create(id="t-migrate", name="T")
    club = Club.objects.create(id="c-migrate", tenant=tenant, name="C", timezone="Europe/London",
                               default_send_time=datetime.time(9))
    template = old_apps.get_model("crm", "MessageTemplate").objects.create(
        tenant=tenant, name="Old", channel="EMAIL", subject="{{ event.name }} at {{ club.name }}",
        body="Hello {{ member.first_name }}, {{ event.name }} starts {{ event_starts_local }}.")
    promotion = old_apps.get_model("promotions", "EventPromotion").objects.create(
        tenant=tenant, club=club, source_type="SPECIAL", source_id="x", channels=["SOCIAL"], reminder_days=[],
        created_by="t", event_name="E", event_starts_at=datetime.datetime(2031, 1, 1, tzinfo=datetime.timezone.utc),
        social_content="Use code {{WINTER}} at the desk")
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new_apps = executor.loader.project_state(after).apps
        template = new_apps.get_model("crm", "MessageTemplate").objects.get(pk=template.pk)
        assert (template.subject, template.body) == (
            "{{ event_name }} at {{ club_name }}", "Hello {{ first_name }}, {{ event_name }} starts {{ event_starts_local }}.")
        text = new_apps.get_model("promotions", "EventPromotion").objects.get(pk=promotion.pk).social_content
        assert templating.render(text, EXAMPLES, place=SOCIAL) == "Use code {{WINTER}} at the desk"
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db
def test_the_demo_templates_and_social_text_are_valid_and_render(client):
    from crm.demo import seed_demo
    from crm.models import MessageTemplate
    from promotions.models import EventPromotion

    tenant, user = seed_demo(members=5)
    for template in MessageTemplate.objects.filter(tenant=tenant):
        template.full_clean()
    promotion = EventPromotion.objects.get(tenant=tenant, event_name="Club Championship")
    promotion.full_clean()
    client.force_login(user)
    content = client.get(f"/promotions/{promotion.pk}/preview/").content.decode()
    assert "is refused" not in content and "Club Championship starts" in content


@pytest.mark.parametrize("source", [
    "{% if kind %}" * 400 + "x" + "{% endif %}" * 400,
    "{{ " + "(" * 2000 + "kind" + ")" * 2000 + " }}",
    "{{ " + "not " * 2000 + "kind }}",
    "x" * 20_001,
])
def test_a_monster_template_is_refused_not_crashed_on(source):
    assert templating.template_problems(source, place=SMS)
    with pytest.raises(TemplateRefused):
        templating.render(source, EXAMPLES, place=SMS)
