import os
import shutil

import pytest

pytest_plugins = ["simulator.pytest_plugin", "platforms.tests.listener"]  # listener: loopback HTTP server for the media-fetch tests

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Platform usage headers live in the cache: every test starts without another test's numbers."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def tenant(db):
    from crm.tests.factories import TenantFactory

    return TenantFactory()


@pytest.fixture
def club(tenant):
    from crm.tests.factories import ClubFactory

    return ClubFactory(tenant=tenant)


@pytest.fixture
def staff_user(tenant):
    from crm.tests.factories import StaffFactory

    return StaffFactory(tenant=tenant).user


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium driven by Playwright (no browser download)."""
    # Playwright's sync API runs an event loop in this thread; the ORM calls tests make
    # around it are still synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium is not installed at {CHROMIUM}; `.ci/run` installs Debian's chromium package.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(base_url=live_server.url)
    context.set_default_timeout(15000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def login(page):
    """Log a user in through the real login form."""

    def _login(username, password="pass1234"):
        page.goto("/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url("**/")
        return page

    return _login
