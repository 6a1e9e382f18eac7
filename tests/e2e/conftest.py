"""Shared browser fixtures: one app server and one Chromium for the session, a fresh context per test."""

import pytest

from bench.harness import CHROMIUM, CHROMIUM_ARGS, browser_missing_reason, running_app


def pytest_collection_modifyitems(items):
    reason = browser_missing_reason()
    if reason:
        for item in items:
            if "/e2e/" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def app_url():
    with running_app() as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(120_000)
    yield page
    context.close()
