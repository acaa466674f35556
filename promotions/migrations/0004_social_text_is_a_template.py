"""A promotion's social text becomes a template; what was written before stays word for word.

Until now the text was sent as written, so any `{{`, `{%` or `{#` in it was literal: each one is
rewritten as a quoted literal (`{{ "{{" }}`) that the template prints unchanged.
"""

import re

from django.db import migrations, models

import promotions.templating


def keep_literal(text):
    return re.sub(r"\{([{%#])", lambda m: '{{ "{' + m.group(1) + '" }}', text)


def social_text_to_template(apps, schema_editor):
    EventPromotion = apps.get_model("promotions", "EventPromotion")
    for pk, text in EventPromotion.objects.filter(social_content__regex=r"\{[{%#]").values_list("pk", "social_content"):
        EventPromotion.objects.filter(pk=pk).update(social_content=keep_literal(text))


class Migration(migrations.Migration):

    dependencies = [
        ('promotions', '0003_inbound_event_id_unique_per_tenant'),
    ]

    operations = [
        migrations.AlterField(
            model_name='eventpromotion',
            name='social_content',
            field=models.TextField(blank=True, help_text='Leave empty for a text built from the event. Merge fields: {{ club_name }} (the club\'s name), {{ event_name }} (the event\'s name), {{ event_starts_local }} (when the event starts, on the club\'s clock), {{ event_starts_short }} (the same, short), {{ event_date }} (the day the event starts), {{ event_time }} (the time it starts), {{ event_location }} (where it is, or empty), {{ event_url }} (the event\'s link, or empty), {{ event_image_url }} (the event\'s image link, or empty), {{ kind }} ("ANNOUNCEMENT" or "REMINDER"), {{ days_before }} (a number: the days left on a reminder, 0 on the announcement). Also allowed: {% if %}…{% elif %}…{% else %}…{% endif %}, comparisons, ~ to join, {% raw %}…{% endraw %}, and the filters default, d, upper, lower, title, capitalize, trim, truncate.', null=True, validators=[promotions.templating.validate_social_text]),
        ),
        migrations.RunPython(social_text_to_template, migrations.RunPython.noop),
    ]
