"""Staff-written message templates: Jinja2 in a sandbox over documented merge fields.

A template (email subject and body, SMS body, a promotion's social text) sees only the merge
fields below, each a plain string or number already formatted; never a model, a manager or
anything callable. Before it is saved, and again before it is rendered, the parsed template is
checked against a short list of what it may contain: merge fields, text, `{% if %}`,
comparisons, `~` joins and a few string filters. Everything else (attribute or item access,
calls, `{% include %}`, `{% import %}`, `{% extends %}`, `{% set %}`, loops, arithmetic,
unknown fields) is refused with the line and the construct named. The sandbox is the second
wall: it refuses every attribute and every call even if the check missed one.
"""

import functools
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

# Where a template is used; each decides which merge fields it may name.
EMAIL = "email"
SMS = "sms"
SOCIAL = "social"
PLACES = {EMAIL: "an email", SMS: "a text message", SOCIAL: "a social post"}

_MEMBER = frozenset({EMAIL, SMS})
_EVERYWHERE = frozenset({EMAIL, SMS, SOCIAL})


@dataclass(frozen=True)
class MergeField:
    name: str
    description: str
    example: str | int
    places: frozenset = _EVERYWHERE


MERGE_FIELDS = (
    MergeField("first_name", "the member's first name", "Alex", _MEMBER),
    MergeField("last_name", "the member's last name", "Example", _MEMBER),
    MergeField("member_name", "the member's full name", "Alex Example", _MEMBER),
    MergeField("club_name", "the club's name", "Pinewood Golf Club"),
    MergeField("event_name", "the event's name", "Club Championship"),
    MergeField("event_starts_local", "when the event starts, on the club's clock", "Saturday 14 June 2025, 08:30"),
    MergeField("event_starts_short", "the same, short", "Sat 14 Jun 08:30"),
    MergeField("event_date", "the day the event starts", "Saturday 14 June 2025"),
    MergeField("event_time", "the time it starts", "08:30"),
    MergeField("event_location", "where it is, or empty", "First tee"),
    MergeField("event_url", "the event's link, or empty", "https://example.com/club-championship"),
    MergeField("event_image_url", "the event's image link, or empty", "https://example.com/medal.jpg"),
    MergeField("kind", '"ANNOUNCEMENT" or "REMINDER"', "ANNOUNCEMENT"),
    MergeField("days_before", "a number: the days left on a reminder, 0 on the announcement", 0),
    MergeField("unsubscribe_url", "the member's one-click unsubscribe link, email only", "https://example.com/u/…",
               frozenset({EMAIL})),
)
FIELDS_BY_NAME = {field.name: field for field in MERGE_FIELDS}

MAX_LENGTH = 20_000
ALLOWED_FILTERS = ("default", "d", "upper", "lower", "title", "capitalize", "trim", "truncate")
ALLOWED_TESTS = ("defined", "undefined", "none", "number", "string", "odd", "even")
_STATEMENT_TAGS = {
    "Include": "include", "Import": "import", "FromImport": "from … import", "Extends": "extends",
    "Block": "block", "Macro": "macro", "CallBlock": "call", "For": "for", "Assign": "set", "AssignBlock": "set",
    "With": "with", "FilterBlock": "filter", "ExprStmt": "do", "Break": "break", "Continue": "continue",
}
_ARITHMETIC = (nodes.BinExpr, nodes.UnaryExpr)


class TemplateRefused(Exception):
    """A stored template that may not be rendered (it was written before the rules, or around them)."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class _Sandbox(SandboxedEnvironment):
    # Merge fields are plain values: nothing inside them is ever reachable, nothing is callable.
    def is_safe_attribute(self, obj, attr, value):
        return False

    def is_safe_callable(self, obj):
        return False


def _environment():
    env = _Sandbox(autoescape=False, undefined=StrictUndefined)
    env.globals.clear()  # no range, lipsum, cycler, joiner, namespace, dict
    env.filters = {name: env.filters[name] for name in ALLOWED_FILTERS}
    env.tests = {name: env.tests[name] for name in ALLOWED_TESTS}
    return env


_ENV = _environment()


def fields_for(place):
    return [field for field in MERGE_FIELDS if place in field.places]


def help_text(place=None):
    """The merge fields and what else a template may use: for form help, the admin and the API schema."""
    fields = MERGE_FIELDS if place is None else fields_for(place)
    listed = ", ".join(f"{{{{ {f.name} }}}} ({f.description.rstrip('.')})" for f in fields)
    return (
        f"Merge fields: {listed}. Also allowed: {{% if %}}…{{% elif %}}…{{% else %}}…{{% endif %}}, comparisons, "
        f"~ to join, {{% raw %}}…{{% endraw %}}, and the filters {', '.join(ALLOWED_FILTERS)}."
    )


def _dotted(node):
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return f"{_dotted(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        return f"{_dotted(node.node)}[…]"
    if isinstance(node, nodes.Call):
        return f"{_dotted(node.node)}(…)"
    return "…"


def _problems_in(node, place, problems):
    line = f"Line {node.lineno}: " if getattr(node, "lineno", None) else ""
    kind = type(node).__name__
    if isinstance(node, (nodes.Template, nodes.Output, nodes.If, nodes.CondExpr, nodes.Compare, nodes.Operand,
                         nodes.And, nodes.Or, nodes.Not, nodes.Concat, nodes.Keyword)):
        pass
    elif isinstance(node, nodes.TemplateData):
        return
    elif isinstance(node, nodes.Const):
        if not isinstance(node.value, (str, int, float, bool, type(None))):
            problems.append(f"{line}this value is not allowed.")
        return
    elif isinstance(node, nodes.Name):
        field = FIELDS_BY_NAME.get(node.name)
        if field is None:
            problems.append(f"{line}“{node.name}” is not a merge field.")
        elif place not in field.places:
            problems.append(f"{line}the merge field “{node.name}” is not available in {PLACES[place]}.")
        return
    elif isinstance(node, (nodes.Getattr, nodes.Getitem)):
        problems.append(f"{line}“{_dotted(node)}” is not allowed: merge fields are plain values with nothing "
                        "inside them (write e.g. {{ first_name }} or {{ event_name }}).")
        return
    elif isinstance(node, nodes.Call):
        problems.append(f"{line}calling “{_dotted(node)}” is not allowed.")
        return
    elif isinstance(node, (nodes.Filter, nodes.Test)):
        kind, allowed = ("filter", ALLOWED_FILTERS) if isinstance(node, nodes.Filter) else ("test", ALLOWED_TESTS)
        if node.name not in allowed:
            problems.append(f"{line}the {kind} “{node.name}” is not allowed (allowed: {', '.join(allowed)}).")
            return
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            problems.append(f"{line}* and ** arguments are not allowed.")
            return
    elif isinstance(node, _ARITHMETIC):
        problems.append(f"{line}arithmetic is not allowed.")
        return
    elif isinstance(node, (nodes.List, nodes.Tuple, nodes.Dict, nodes.Slice)):
        problems.append(f"{line}lists, tuples and dictionaries are not allowed.")
        return
    elif kind in _STATEMENT_TAGS:
        problems.append(f"{line}“{{% {_STATEMENT_TAGS[kind]} %}}” is not allowed in a message template.")
        return
    else:
        problems.append(f"{line}this construct ({kind}) is not allowed in a message template.")
        return
    for child in node.iter_child_nodes():
        _problems_in(child, place, problems)


@functools.lru_cache(maxsize=256)
def _compiled(source, place):
    """(problems, compiled template or None): checked once per text, however many members it goes to."""
    if len(source) > MAX_LENGTH:
        return (f"A template is at most {MAX_LENGTH} characters.",), None
    problems = []
    try:
        tree = _ENV.parse(source)
        _problems_in(tree, place, problems)
    except TemplateSyntaxError as exc:
        hint = " Tags allowed: if, elif, else, endif, raw." if "unknown tag" in (exc.message or "") else ""
        return (f"Line {exc.lineno}: {exc.message}{hint}",), None
    except RecursionError:
        return ("The template is nested too deeply.",), None
    if problems:
        return tuple(dict.fromkeys(problems)), None
    try:
        return (), _ENV.from_string(source)
    except (RecursionError, SyntaxError, MemoryError):
        return ("The template is nested too deeply.",), None


def _render_checked(template, values, place):
    context = {}
    for field in fields_for(place):
        value = values[field.name]
        context[field.name] = value if isinstance(value, int) and not isinstance(value, bool) else str(value)
    try:
        return template.render(context)
    except TemplateError as exc:
        raise TemplateRefused([f"it could not be rendered: {exc.message or exc.__class__.__name__}"]) from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise TemplateRefused([f"it could not be rendered: {exc}"]) from None


def template_problems(source, *, place):
    """Why `source` may not be used in `place` (one line each), or an empty list."""
    problems, template = _compiled(source, place)
    if problems:
        return list(problems)
    try:
        # A trial run on example values catches what parsing cannot, e.g. comparing a name with a number.
        _render_checked(template, {f.name: f.example for f in fields_for(place)}, place)
    except TemplateRefused as exc:
        return exc.problems
    return []


def validate_template(source, *, place):
    problems = template_problems(source or "", place=place)
    if problems:
        raise ValidationError(problems)


def validate_social_text(value):
    validate_template(value, place=SOCIAL)


def render(source, values, *, place):
    """Render a template for `place` over `values` (a dict holding at least that place's merge fields).

    Plain text comes out, never marked safe: escaping is the job of whatever shows it.
    Raises TemplateRefused for a template the rules refuse.
    """
    problems, template = _compiled(source, place)
    if problems:
        raise TemplateRefused(problems)
    return _render_checked(template, values, place)
