"""Message templates move from Django's template language to the Jinja sandbox over merge fields.

Stored templates are rewritten where the two differ: `{{ member.first_name }}` becomes
`{{ first_name }}`, `{{ event.name }}` `{{ event_name }}`, `{{ club.name }}` `{{ club_name }}`,
a `|date:"…"` of the event's start becomes the preformatted field that fits, `|default:"x"`
becomes `|default("x")`, `{% comment %}` becomes `{# #}`. What cannot be rewritten (a walk to
anything else, a `{% load %}`) stays as written: the sandbox refuses it when it would be sent or
previewed, and the admin names the problem when the template is next edited.
"""

import re

from django.db import migrations, models

# A frozen copy of the rules: the app's code may move on, this migration must not.
DATE_CHARS = set("dDjlNSwzWFmMnLotyYbE")
TIME_CHARS = set("aAfgGhHisuPeOTZ")
START = r"(?:event\.starts_at|promotion\.event_starts_at)"
PATHS = [
    (r"promotion\.club\.name", "club_name"),
    (r"member\.get_full_name\b(?:\(\))?", "member_name"),
    (r"member\.first_name", "first_name"),
    (r"member\.last_name", "last_name"),
    (r"(?:event\.name|promotion\.event_name)", "event_name"),
    (r"(?:event\.location|promotion\.event_location)", "event_location"),
    (r"(?:event\.url|promotion\.event_url)", "event_url"),
    (r"(?:event\.image_url|promotion\.event_image_url)", "event_image_url"),
    (START, "event_starts_local"),
    (r"club\.name", "club_name"),
    (r"\bmember\b(?![.\w])", "member_name"),
    (r"\bclub\b(?![.\w])", "club_name"),
]
FILTER_NAMES = {"capfirst": "capitalize", "default_if_none": "default", "truncatechars": "truncate"}


def _start_field(fmt):
    if fmt == "l j F Y, H:i":
        return "event_starts_local"
    if fmt == "D j M H:i":
        return "event_starts_short"
    letters = {c for c in fmt if c.isalpha()}
    if letters and letters <= TIME_CHARS:
        return "event_time"
    if letters and letters <= DATE_CHARS:
        return "event_date"
    return "event_starts_local"


def _convert_tag(tag):
    tag = re.sub(START + r"\s*\|\s*(?:date|time)\s*:\s*([\"'])(.*?)\1", lambda m: _start_field(m.group(2)), tag)
    for pattern, field in PATHS:
        tag = re.sub(pattern, field, tag)
    tag = re.sub(r"\|\s*(\w+)\s*:\s*(\"[^\"]*\"|'[^']*'|[\w.]+)", lambda m: f"|{m.group(1)}({m.group(2)})", tag)
    return re.sub(r"\|\s*(\w+)", lambda m: f"|{FILTER_NAMES.get(m.group(1), m.group(1))}", tag)


def django_to_jinja(source):
    if not source:
        return source
    source = re.sub(r"\{%\s*comment\s*%\}(.*?)\{%\s*endcomment\s*%\}", r"{#\1#}", source, flags=re.S)
    source = re.sub(r"\{%\s*(?:autoescape\s+\w+|endautoescape)\s*%\}", "", source)
    return re.sub(r"\{\{.*?\}\}|\{%.*?%\}", lambda m: _convert_tag(m.group(0)), source, flags=re.S)


def convert_templates(apps, schema_editor):
    MessageTemplate = apps.get_model("crm", "MessageTemplate")
    for template in MessageTemplate.objects.all().iterator():
        subject, body = django_to_jinja(template.subject), django_to_jinja(template.body)
        if (subject, body) != (template.subject, template.body):
            MessageTemplate.objects.filter(pk=template.pk).update(subject=subject, body=body)


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0002_apitoken'),
    ]

    operations = [
        migrations.AlterField(
            model_name='messagetemplate',
            name='body',
            field=models.TextField(help_text='Merge fields: {{ first_name }} (the member\'s first name), {{ last_name }} (the member\'s last name), {{ member_name }} (the member\'s full name), {{ club_name }} (the club\'s name), {{ event_name }} (the event\'s name), {{ event_starts_local }} (when the event starts, on the club\'s clock), {{ event_starts_short }} (the same, short), {{ event_date }} (the day the event starts), {{ event_time }} (the time it starts), {{ event_location }} (where it is, or empty), {{ event_url }} (the event\'s link, or empty), {{ event_image_url }} (the event\'s image link, or empty), {{ kind }} ("ANNOUNCEMENT" or "REMINDER"), {{ days_before }} (a number: the days left on a reminder, 0 on the announcement), {{ unsubscribe_url }} (the member\'s one-click unsubscribe link, email only). Also allowed: {% if %}…{% elif %}…{% else %}…{% endif %}, comparisons, ~ to join, {% raw %}…{% endraw %}, and the filters default, d, upper, lower, title, capitalize, trim, truncate.'),
        ),
        migrations.AlterField(
            model_name='messagetemplate',
            name='subject',
            field=models.CharField(blank=True, help_text="Email only; a template like the body. Empty: the event's name.", max_length=200),
        ),
        # Going back leaves the new syntax in place: the old engine is not coming back with it.
        migrations.RunPython(convert_templates, migrations.RunPython.noop),
    ]
