"""Everything that differs per platform is its adapter's: no module outside platforms/ and simulator/
branches on a platform's name.

Left out on purpose: migrations (frozen history), tests and bench (they pick platforms to drive),
and the settings modules (socialcrm/settings.py, localenv.py, test_settings.py) — they name
environment variables such as FACEBOOK_APP_ID and key the adapters' overrides by platform code:
configuration read once, not behaviour that branches.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ["crm", "connections", "posts", "promotions", "socialcrm"]
SETTINGS_MODULES = {"socialcrm/settings.py", "socialcrm/localenv.py", "socialcrm/test_settings.py"}
NAMES = {"FACEBOOK", "INSTAGRAM", "TWITTER", "LINKEDIN", "X", "facebook", "instagram", "twitter", "linkedin", "x"}
TEMPLATE_COMPARISON = re.compile(
    r"""(==|!=|\bin\b)\s*["'](FACEBOOK|INSTAGRAM|TWITTER|LINKEDIN|X|facebook|instagram|twitter|linkedin|x)["']"""
    r"""|["'](FACEBOOK|INSTAGRAM|TWITTER|LINKEDIN|facebook|instagram|twitter|linkedin)["']\s*(==|!=|\bin\b)""")


def _is_name(node):
    return isinstance(node, ast.Constant) and node.value in NAMES


def _names_in(node):
    """Platform names a comparison operand or `in` container holds."""
    if _is_name(node):
        yield node.value
    elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        yield from (element.value for element in node.elts if _is_name(element))
    elif isinstance(node, ast.Attribute) and node.attr in NAMES:
        yield node.attr


def platform_branches(source, filename="<source>"):
    """(line, what) for each place the code names a specific platform to decide something."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Compare):
            for operand in [node.left, *node.comparators]:
                found += [(node.lineno, f"compares with {name!r}") for name in _names_in(operand)]
        elif isinstance(node, ast.Dict):
            found += [(key.lineno, f"keys a dict by {key.value!r}") for key in node.keys if key is not None and _is_name(key)]
        elif isinstance(node, ast.Attribute) and node.attr in NAMES and node.attr.isupper():
            found.append((node.lineno, f"names .{node.attr}"))
        elif isinstance(node, ast.keyword) and node.arg and node.arg.endswith("__in"):
            found += [(node.value.lineno, f"filters on {name!r}") for name in _names_in(node.value)]
        elif isinstance(node, ast.keyword) and node.arg in ("platform", "connection__platform") and _is_name(node.value):
            found.append((node.value.lineno, f"filters on {node.value.value!r}"))
        elif isinstance(node, ast.Assign):  # a hard-coded platform, or list of them (a choices class, a constant)
            found += [(node.lineno, f"holds {name!r}") for name in _names_in(node.value)]
    return sorted(set(found))


def _product_modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative or "/tests/" in relative or relative in SETTINGS_MODULES:
                continue
            yield relative


@pytest.mark.parametrize("relative", list(_product_modules()))
def test_no_module_outside_the_adapters_branches_on_a_platform(relative):
    found = platform_branches((ROOT / relative).read_text(), relative)
    assert not found, "\n".join(f"{relative}:{line}: {what} — declare it on the adapter instead" for line, what in found)


def test_no_template_compares_with_a_platform_name():
    found = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if TEMPLATE_COMPARISON.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("source", [
    'if connection.platform == SocialPlatform.INSTAGRAM and not image: pass',
    'if platform == "TWITTER": pass',
    'q = Q(platform__in=[SocialPlatform.FACEBOOK, SocialPlatform.INSTAGRAM])',
    'limits = {"LINKEDIN": 3000}',
    'ok = slug in ("facebook", "instagram")',
    'rows = SocialConnection.objects.filter(platform="TWITTER")',
    'class SocialPlatform(models.TextChoices):\n    FACEBOOK = "FACEBOOK", "Facebook"',
])
def test_the_check_catches_each_way_of_branching(source):
    assert platform_branches(source)


@pytest.mark.parametrize("source", [
    'adapter = get_adapter(connection.platform)\nif adapter.requires_media and not image: pass',
    'label = "Instagram will be skipped"',
    'FACEBOOK_APP_ID = "x-app"',
])
def test_the_check_lets_adapter_facts_and_prose_through(source):
    assert not platform_branches(source)
