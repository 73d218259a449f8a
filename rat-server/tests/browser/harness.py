"""What every flow stands on: the Watch that fails a flow on any console
error, page error, failed request or HTTP error of the server under test
it was not told to expect, and the Flow (a page, its screenshots, the
editor helpers)."""

import re
import sys
from pathlib import Path

from playwright.sync_api import expect

# What a page may take to answer a click (the server is local; this is a
# bound, not a wait: every wait ends on an event in the page).
expect.set_options(timeout=20_000)


class Watch:
    """Fails the flow on any console error, page error, failed request or
    HTTP error response it was not told to expect."""

    def __init__(self, page, base):
        # Only the server under test is judged (an identity provider's
        # pages are not rat's).
        self.origin = re.match(r"https?://[^/]+", base).group(0)
        self.problems = []
        self.expected = []  # (status, path regex), each consumed once
        page.on("console", self.console)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", self.failed)
        page.on("response", self.response)

    def expect(self, status, path):
        self.expected.append((status, re.compile(path)))

    def expect_failure(self, path):
        """A request to `path` that gets no answer (the network is down)."""
        self.expected.append((0, re.compile(path)))

    def ours(self, url):
        return url.startswith(self.origin + "/")

    def console(self, message):
        # Chromium repeats each HTTP error response as a console error;
        # those are judged by `response` below.
        if not self.ours(message.page.url if message.page else self.origin + "/"):
            return
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console error: {message.text}")

    def failed(self, request):
        if not self.ours(request.url):
            return
        # A stream the page closed on purpose, or left when navigating.
        if request.resource_type == "eventsource" or "ERR_ABORTED" in (request.failure or ""):
            return
        for i, (status, path) in enumerate(self.expected):
            if status == 0 and path.search(request.url):
                del self.expected[i]
                return
        self.problems.append(f"request failed: {request.method} {request.url} {request.failure}")

    def response(self, response):
        if response.status < 400 or not self.ours(response.url):
            return
        for i, (status, path) in enumerate(self.expected):
            if status == response.status and path.search(response.url):
                del self.expected[i]
                return
        self.problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def check(self):
        assert not self.problems, "\n".join(self.problems)


class Flow:
    def __init__(self, browser, base, shots):
        self.base = base.rstrip("/")
        self.shots = Path(shots)
        self.shots.mkdir(parents=True, exist_ok=True)
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.page = self.context.new_page()
        self.watch = Watch(self.page, self.base)
        self.timings = {}
        self.no_shots = "noshots" in sys.argv[4:]

    def open(self, path):
        self.page.goto(self.base + path)
        self.ready()

    def ready(self):
        expect(self.page.locator("html")).to_have_attribute("data-ready", "true")

    def shot(self, name):
        """The page at 1280x800, then at 390x844, where it must fit the
        width (a wide table scrolls in its own box, not the page)."""
        if self.no_shots:
            return
        self.page.screenshot(path=str(self.shots / f"{name}.png"))
        self.page.set_viewport_size({"width": 390, "height": 844})
        try:
            self.page.screenshot(path=str(self.shots / f"{name}-390.png"))
            # What pokes out of the page's width outside a box that
            # scrolls it (a wide table, the DAG, the editor).
            wide = self.page.evaluate(
                """() => [...document.querySelectorAll("body *")].filter((el) => {
                    if (el.getBoundingClientRect().right <= innerWidth + 1) return false;
                    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
                        if (getComputedStyle(a).overflowX !== "visible") return false;
                    }
                    return getComputedStyle(el).overflowX === "visible";
                }).slice(0, 3).map((el) => el.outerHTML.slice(0, 120))"""
            )
            width = self.page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390 and not wide, f"{name} at 390px is {width}px wide: {wide}"
        finally:
            self.page.set_viewport_size({"width": 1280, "height": 800})

    def editor_text(self):
        return self.page.evaluate("window.rat.editors.code.text()")

    def set_code(self, text, editor="code"):
        """Replaces an editor's text the way a person would: select all, type."""
        content = self.page.locator(f'textarea[name="{editor}"] + .cm-editor .cm-content')
        content.click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.press("Delete")
        # insertText: one input event, not auto-closed brackets per key.
        self.page.keyboard.insert_text(text)
        typed = self.page.evaluate(f"window.rat.editors['{editor}'].text()")
        assert typed == text, typed
