"""Template filters for dates and times; every one calls crm/dates.py (the only place formats live).

    {{ post.scheduled_at|moment:club }}   Sat 14 Mar, 09:00 · Sat 14 Mar 2027, 9:00 am
    {{ campaign.starts_on|day }}          Sat 14 Mar · Sat 14 Mar 2027
    {{ moment|clock:club }}               09:00 · 9:00 am
    {{ day|month_heading }}               March 2027
    {{ day|weekday }}                     Sat
    {{ day|iso_day }}                     2027-03-14 (links and form values)
    {{ value|picker:club }}               2027-03-14T09:00 (datetime-local inputs)
    {{ value|clock_value:club }}          09:00 (time inputs and data attributes)

``club`` is the row's club; without one (a tenant-wide row) the active timezone and the tenant's style apply.
"""

from django import template

from crm import dates

register = template.Library()


@register.filter
def moment(value, club=None):
    return dates.format_moment(value, club or None)


@register.filter
def day(value, club=None):
    return dates.format_day(value, club or None)


@register.filter
def clock(value, club=None):
    return dates.format_clock(value, club or None)


@register.filter
def month_heading(value):
    return dates.format_month(value) if value else ""


@register.filter
def weekday(value):
    return dates.format_weekday(value) if value else ""


@register.filter
def iso_day(value, club=None):
    return dates.iso_day(value, club or None)


@register.filter
def picker(value, club=None):
    return dates.picker_value(value, club or None)


@register.filter
def clock_value(value, club=None):
    return dates.clock_value(value, club or None)
