"""The expense example served by uvicorn, used through the UI in a real browser by its demo users.

alice starts an expense from the page (an invalid amount first: the field shows the error), bob
sees it arrive in his inbox without reloading, carol cannot open bob's task (a readable 403), bob
approves while another tab of his inbox drops the task without a reload, carol and dave complete
their reviews, and alice sees her instance completed with the graph drawn. Every page is
screenshotted (test-artifacts/ui), fits a 375 px wide screen and has AA text contrast, and no
page logs an error (a Content-Security-Policy violation included).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_expense_http import Server, start_server
from tests.ui.browser import DESKTOP, PHONE, PageProblems, browser, check_page, screenshot, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

__all__ = ("browser",)  # the fixture, imported for the tests of this module

TIMEOUT_MS = 20_000


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(f"sqlite+aiosqlite:///{tmp_path / 'expense.sqlite3'}", tmp_path / "uvicorn.log")
    try:
        yield running
    finally:
        running.process.kill()  # open event streams of a failed test would hold up a graceful stop
        running.process.wait(10)


def _wait_until_finished(base_url: str, instance_id: str) -> None:
    """Until the instance's machine steps after the last review ran (over the REST API, as alice)."""
    with httpx.Client(base_url=base_url, headers={"X-User": "alice"}, timeout=30) as client:
        client.get(f"/workflows/instances/{instance_id}/events")  # the stream ends when the instance finished
        status = client.get(f"/workflows/instances/{instance_id}").json()["status"]
    assert status == "completed", status


def _review(context: Any, base_url: str, user: str, title: str, problems: PageProblems) -> None:
    from playwright.sync_api import expect

    page = sign_in(context, base_url, user, problems)
    card = page.locator(".card", has_text=title)
    expect(card).to_have_count(1, timeout=TIMEOUT_MS)
    card.get_by_role("link", name=f"Open {title}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    check_page(page, f"task-{user}")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_have_text("Task completed. Thank you.")


def test_expense_through_the_ui(browser: Any, server: Server) -> None:
    from playwright.sync_api import expect

    base = server.base_url
    problems = PageProblems()
    alice = browser.new_context(viewport=DESKTOP)
    bob = browser.new_context(viewport=PHONE)
    carol = browser.new_context(viewport=PHONE)
    dave = browser.new_context(viewport=PHONE)

    # bob's inbox is open, and live, before anything exists
    bob_inbox = sign_in(bob, base, "bob", problems)
    expect(bob_inbox.locator("#inbox-list")).to_have_attribute("data-live", "on", timeout=TIMEOUT_MS)
    check_page(bob_inbox, "inbox-empty")

    # alice starts an expense: an amount of 0 is refused next to the field, nothing starts
    page = sign_in(alice, base, "alice", problems)
    page.get_by_role("link", name="Instances").click()
    check_page(page, "instances-empty")
    page.get_by_role("link", name="Start expense").click()
    page.get_by_label("Amount").fill("0")
    page.get_by_label("What it was for").fill("conference")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#error-amount")).to_contain_text("> 0")
    expect(page.get_by_label("Amount")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("What it was for")).to_have_value("conference")
    check_page(page, "start-invalid")
    page.get_by_label("Amount").fill("2500")
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("status")).to_have_text("Started.")
    instance_url = page.url.split("?")[0]
    instance_id = instance_url.rsplit("/", 1)[1]

    # the task reaches bob's open inbox without a reload; a second tab of his inbox is open too
    card = bob_inbox.locator(".card", has_text="Approve expense")
    expect(card).to_have_count(1, timeout=TIMEOUT_MS)
    expect(card.locator(".meta").first).to_contain_text(instance_id[:8])
    second_tab = problems.watch(bob.new_page())
    second_tab.goto(f"{base}/workflows/ui/")
    expect(second_tab.locator("#inbox-list")).to_have_attribute("data-live", "on", timeout=TIMEOUT_MS)
    expect(second_tab.locator(".card", has_text="Approve expense")).to_have_count(1)
    task_id = card.get_attribute("data-task")
    card.get_by_role("button", name="Claim").press("Enter")  # by keyboard: the focus stays on the task
    expect(card.get_by_text("Claimed by you")).to_be_visible()
    expect(bob_inbox.locator(f"#release-{task_id}")).to_be_focused()
    check_page(bob_inbox, "inbox-bob")
    task_url = card.get_by_role("link", name="Approve expense", exact=True).get_attribute("href")
    assert task_url is not None

    # carol may not open bob's task: a readable refusal, not a stack trace
    refused = sign_in(carol, base, "carol", problems)
    response = refused.goto(f"{base}{task_url}")
    assert response is not None
    assert response.status == 403
    expect(refused.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(refused.get_by_role("alert")).to_contain_text("may not see task")
    check_page(refused, "task-refused")

    # bob approves on the task page; the other tab drops the task by itself
    bob_inbox.goto(f"{base}{task_url}")
    expect(bob_inbox.get_by_role("heading", level=1)).to_have_text("Approve expense")
    expect(bob_inbox.locator("dl.data")).to_contain_text("conference")
    check_page(bob_inbox, "task-bob")
    bob_inbox.get_by_label("Comment").fill("fine by me")
    bob_inbox.get_by_role("button", name="Approve").click()
    expect(bob_inbox.get_by_role("status")).to_have_text("Task completed. Thank you.")
    expect(second_tab.locator(".card", has_text="Approve expense")).to_have_count(0, timeout=TIMEOUT_MS)
    expect(second_tab.locator(".empty")).to_have_text("No open tasks.")

    # finance and legal review in parallel
    _review(carol, base, "carol", "Finance review", problems)
    _review(dave, base, "dave", "Legal review", problems)

    # alice sees her expense completed, the graph drawn with every step done
    _wait_until_finished(base, instance_id)
    page.goto(instance_url)
    expect(page.locator("#instance-status")).to_have_text("completed")
    figure = page.locator("figure[data-graph]")
    expect(figure).to_have_attribute("data-rendered", "true", timeout=TIMEOUT_MS)
    assert page.locator(".graph-image").evaluate("image => image.complete && image.naturalWidth > 0")
    expect(figure.locator(".legend-completed")).to_contain_text("pay")
    expect(figure.locator(".legend-current")).to_have_text("Current: none")
    expect(page.locator(".history")).to_contain_text("bob")
    check_page(page, "instance-completed")
    page.set_viewport_size(PHONE)
    check_page(page, "instance-completed-phone")
    page.get_by_role("link", name="Instances").click()
    expect(page.locator(".card", has_text=instance_id[:8])).to_contain_text("completed")
    screenshot(page, "instances")

    # the keyboard reaches the skip link first, with a visible focus outline
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => [document.activeElement.className, getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused == ["skip-link", "solid"]

    for context in (alice, bob, carol, dave):
        context.close()
    # the refusals the test asked for (the invalid start, carol's 403) are the only failed loads
    expected = {
        f"Failed to load resource: the server responded with a status of {status} ({reason})"
        for status, reason in ((400, "Bad Request"), (403, "Forbidden"))
    }
    assert [error for error in problems.errors if error not in expected] == []
    assert set(problems.errors) == expected
