"""The web IDE in a real browser: Debian's Chromium driven by Playwright
against a real `rat serve` that tests/browser.rs started.

    python flows.py FLOW BASE_URL SCREENSHOT_DIR [KEY]

Each flow is what a person does, step by step, asserting what they would
see. Any console error, uncaught exception, failed request or HTTP error
the flow did not expect fails it. Screenshots at 1280x800 (and 390x844
where the layout changes) are written to SCREENSHOT_DIR.
"""

import json
import re
import sys
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

# What a page may take to answer a click (the server is local; this is a
# bound, not a wait: every wait below ends on an event in the page).
expect.set_options(timeout=20_000)


class Watch:
    """Fails the flow on any console error, page error, failed request or
    HTTP error response it was not told to expect."""

    def __init__(self, page):
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

    def console(self, message):
        # Chromium repeats each HTTP error response as a console error;
        # those are judged by `response` below.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console error: {message.text}")

    def failed(self, request):
        # A stream the page closed on purpose, or left when navigating.
        if request.resource_type == "eventsource" or "ERR_ABORTED" in (request.failure or ""):
            return
        for i, (status, path) in enumerate(self.expected):
            if status == 0 and path.search(request.url):
                del self.expected[i]
                return
        self.problems.append(f"request failed: {request.method} {request.url} {request.failure}")

    def response(self, response):
        if response.status < 400:
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
        self.watch = Watch(self.page)
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


def author(flow):
    """What a pipeline's author does, in order (each step below), then the
    remaining pages' screenshots."""
    create_from_starter(flow)
    edit_check_preview_run(flow)
    explore_query_and_roll_back(flow)
    tests_and_versions(flow)
    drafts(flow)
    settings_form(flow)
    error_states(flow)
    keyboard_only(flow)
    flow.open("/runs")
    flow.shot("runs")
    flow.open("/settings")
    flow.shot("settings")
    flow.open("/")
    flow.shot("home")


def create_from_starter(flow):
    """A new pipeline from the starter: created, previewed, deleted."""
    page = flow.page
    flow.open("/pipelines")
    page.get_by_text("New pipeline").click()
    form = page.locator("form[data-new-pipeline]")
    form.get_by_label("Layer").select_option("silver")
    form.get_by_label("Name", exact=True).fill("scratch")
    form.get_by_label("Merge strategy").select_option("incremental")
    flow.shot("pipelines")
    form.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/pipelines/default/silver/scratch$"))
    flow.ready()
    assert "@unique_key: id" in flow.editor_text(), flow.editor_text()
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("[data-output] tbody tr")).to_have_count(1)
    expect(page.locator("[data-output] tbody tr")).to_contain_text("hello")
    page.get_by_role("button", name="Delete…").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    page.wait_for_url(re.compile(r"/pipelines$"))
    flow.ready()
    expect(page.get_by_role("link", name="scratch", exact=True)).to_have_count(0)


def edit_check_preview_run(flow):
    """paid_orders broken (marked at its line), fixed, previewed, saved,
    run, its live log followed to success."""
    page = flow.page
    flow.open("/pipelines")
    page.get_by_role("link", name="paid_orders", exact=True).click()
    flow.ready()
    expect(page.get_by_role("heading", level=1)).to_have_text("default.silver.paid_orders")
    good = flow.editor_text()
    assert "ref('bronze.orders')" in good, good

    # ref() completion offers the catalog's tables.
    flow.set_code("SELECT * FROM {{ ref('bron")
    page.keyboard.press("Control+Space")
    options = page.locator(".cm-tooltip-autocomplete li")
    expect(options.first).to_be_visible()
    labels = options.all_inner_texts()
    assert any("bronze.orders" in label for label in labels), labels

    changed = good.replace("'v1'", "'v2'")
    broken = changed.replace("WHERE", "WHERE WHERE", 1)
    line = next(i for i, l in enumerate(broken.split("\n"), 1) if "WHERE WHERE" in l)
    flow.set_code(broken)
    flow.watch.expect(422, r"/compile$")
    page.get_by_role("button", name="Check").click()
    status = page.locator("[data-result]")
    expect(status).to_have_class(re.compile("error"))
    expect(status).to_contain_text(f"line: {line}")
    # The editor marks that line: the marked range is the broken line.
    expect(page.locator(".cm-lintRange-error").first).to_contain_text("WHERE WHERE")
    expect(page.locator(".cm-gutter-lint .cm-lint-marker-error")).to_have_count(1)
    flow.shot("pipeline-error")

    flow.set_code(changed)
    page.get_by_role("button", name="Check").click()
    expect(status).to_contain_text("The code compiles")
    expect(page.locator(".cm-lintRange-error")).to_have_count(0)
    page.get_by_role("button", name="Preview").click()
    expect(status).to_contain_text("Preview:")
    output = page.locator("[data-output]")
    expect(output.locator("tbody tr").first).to_be_visible()
    assert "order_id" in output.locator("th").all_inner_texts()
    expect(output.locator("tbody tr").first).to_contain_text("v2")
    flow.shot("pipeline-preview")

    page.get_by_role("button", name="Save", exact=True).click()
    expect(status).to_contain_text("Saved as version")

    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]{32}$"))
    flow.ready()
    expect(page.locator("[data-run]")).to_have_attribute("data-ended", "success")
    expect(page.locator("[data-status]")).to_have_text("success")
    log = page.locator("[data-log]")
    expect(log).to_contain_text("started")
    expect(log).to_contain_text("run succeeded")
    # The level filter: "all" shows the debug lines the default hides.
    level = page.locator("[data-level]")
    shown = lambda: page.locator("[data-log] li:visible").count()
    default = shown()
    level.select_option("debug")
    everything = shown()
    level.select_option("error")
    assert shown() < default < everything, (shown(), default, everything)
    level.select_option("info")
    page.locator("[data-search]").fill("publish")
    for text in page.locator("[data-log] li:visible").all_inner_texts():
        assert "publish" in text.lower(), text
    page.locator("[data-search]").fill("")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    saved = Path(download.value.path()).read_text()
    assert download.value.suggested_filename.startswith("run-") and "run succeeded" in saved, saved
    # The phases appear when the run ends, and stay once reloaded.
    expect(page.locator("[data-phase-list] li").first).to_contain_text("load")
    flow.shot("run")
    page.reload()
    flow.ready()
    expect(page.locator("[data-phase-list] li").last).to_contain_text("publish")


def explore_query_and_roll_back(flow):
    """The table in the explorer (both snapshots, time travel), the query
    console, a rollback to the first snapshot."""
    page = flow.page
    flow.open("/tables")
    page.get_by_role("link", name="default.silver.paid_orders").click()
    flow.ready()
    expect(page.get_by_role("heading", level=1)).to_have_text("default.silver.paid_orders")
    expect(page.locator("#columns-h + table")).to_contain_text("code_version")
    snapshots = page.locator("#history-h + table tbody tr")
    expect(snapshots).to_have_count(2)
    rows = page.locator("[data-table] [data-output]")
    expect(rows.locator("tbody tr").first).to_contain_text("v2")
    first_snapshot = page.locator("[data-rollback]").get_attribute("data-rollback")
    page.locator("[data-snapshot]").select_option(first_snapshot)
    expect(page.locator("[data-table] [data-result]")).to_contain_text(f"snapshot {first_snapshot}")
    expect(rows.locator("tbody tr").first).to_contain_text("v1")
    flow.shot("table")

    # The query console, from the table's page.
    page.get_by_role("link", name="Query this table").click()
    flow.ready()
    page.get_by_role("button", name="Run", exact=True).click()
    result = page.locator("[data-query] [data-result]")
    expect(result).to_contain_text("rows in")
    grid = page.locator("[data-query] [data-output] table")
    expect(grid.locator("tbody tr")).to_have_count(100)
    expect(grid.locator("tbody tr").first).to_contain_text("v2")
    # Sorting by a column, both ways.
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    exported = Path(download.value.path()).read_text().splitlines()
    assert exported[0] == "order_id,amount,ordered_at,code_version", exported[:2]
    assert len(exported) == 101, len(exported)
    header = grid.get_by_role("button", name="order_id")
    header.click()
    expect(grid.locator("th").first).to_have_attribute("aria-sort", "ascending")
    header.click()
    expect(grid.locator("th").first).to_have_attribute("aria-sort", "descending")
    # An error is marked at its line.
    flow.watch.expect(422, r"/api/v1/query$")
    page.evaluate("text => window.rat.editors.sql.setText(text)", "SELECT 1\nFROM FROM")
    page.keyboard.press("Control+Enter")
    expect(result).to_have_class(re.compile("error"))
    expect(result).to_contain_text("line: 2")
    expect(page.locator(".cm-lintRange-error")).to_contain_text("FROM FROM")
    expect(page.locator("[data-history] li")).to_have_count(1)
    flow.shot("query")

    # Roll back to the first snapshot: asked first, then done.
    flow.open("/tables/default/silver/paid_orders")
    page.locator("[data-rollback]").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(first_snapshot)
    with page.expect_navigation():
        dialog.get_by_role("button", name="Roll back").click()
    flow.ready()
    expect(snapshots).to_have_count(3)
    expect(rows.locator("tbody tr").first).to_contain_text("v1")


def tests_and_versions(flow):
    """A quality test added and run; version 1 compared with the editor,
    then made the code again."""
    page = flow.page
    flow.open("/pipelines/default/silver/paid_orders")
    tests = page.locator("[data-tests]")
    tests.get_by_text("New test").click()
    new_test = tests.locator("form[data-new-test]")
    new_test.get_by_label("Name").fill("amount_present")
    new_test.locator("textarea").fill("-- @severity: warn\nSELECT * FROM {{ this }} WHERE amount IS NULL")
    with page.expect_navigation():
        new_test.get_by_role("button", name="Add test").click()
    flow.ready()
    expect(tests.locator("[data-test]")).to_have_count(1)
    tests.get_by_role("button", name="Run tests now").click()
    expect(tests.locator("[data-tests-result]")).to_contain_text("a run would publish")
    expect(tests.locator("[data-tests-output]")).to_contain_text("amount_present")
    versions = page.locator("[data-versions]")
    versions.locator('[data-diff="1"]').click()
    diff = versions.locator("[data-diff-output]")
    expect(diff.locator(".del")).to_contain_text("'v1'")
    expect(diff.locator(".add")).to_contain_text("'v2'")
    flow.shot("pipeline-versions")
    versions.locator('[data-restore="1"]').click()
    with page.expect_navigation():
        page.get_by_role("dialog").get_by_role("button", name="Roll back").click()
    flow.ready()
    expect(page.locator("[data-versions] tbody tr").first).to_contain_text("(current)")
    assert "'v1'" in flow.editor_text(), flow.editor_text()


def drafts(flow):
    """A change saved as a draft while the published code stays; the
    draft reopened and published: then it is the code, with no draft
    pending."""
    page = flow.page
    flow.open("/pipelines/default/silver/paid_orders")
    published = flow.editor_text()
    draft = published.rstrip() + "\n-- drafted in the browser\n"
    flow.set_code(draft)
    with page.expect_navigation():
        page.get_by_role("button", name="Save as draft").click()
    flow.ready()
    banner = page.get_by_role("region", name="Draft")
    expect(banner).to_contain_text("You are editing the draft")
    assert flow.editor_text() == draft, flow.editor_text()
    flow.shot("pipeline-draft")
    banner.get_by_role("link", name="Back to the published code").click()
    flow.ready()
    expect(banner).to_contain_text("A draft is pending")
    assert flow.editor_text() == published, flow.editor_text()
    banner.get_by_role("link", name="Open the draft").click()
    flow.ready()
    with page.expect_navigation():
        page.get_by_role("button", name="Publish").click()
    flow.ready()
    expect(banner).to_have_count(0)
    assert flow.editor_text() == draft, flow.editor_text()
    expect(page.locator("[data-versions] tbody tr").first).to_contain_text("(current)")


def settings_form(flow):
    """The settings form over config.yaml: it shows the file's partition
    spec; a strategy and key chosen rewrite the YAML (its other keys kept);
    a bad partition is refused at its field; YAML typed fills the form;
    saved, it is the pipeline's. A key an annotation sets is the code's."""
    page = flow.page
    flow.open("/pipelines/default/silver/orders_enriched")
    form = page.locator("form[data-settings]")
    config = lambda: page.evaluate("window.rat.editors.config.text()")
    expect(form.get_by_label("Partition by")).to_have_value("month(order_date)")
    form.get_by_label("Merge strategy").select_option("incremental")
    # Without its key the strategy is refused, the message naming it.
    flow.watch.expect(422, r"/compile$")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("[data-result]")).to_contain_text("422: ")
    expect(page.locator("[data-result]")).to_contain_text("unique_key")
    form.get_by_label("Unique key").fill("order_id")
    form.get_by_label("Unique key").press("Tab")
    for line in ["merge_strategy: incremental", "unique_key: order_id", "description: Paid and shipped"]:
        assert line in config(), config()
    form.get_by_label("Partition by").fill("month(order_date), nonsense((")
    form.get_by_label("Partition by").press("Tab")
    expect(form.locator("[data-settings-note]")).to_contain_text("'nonsense(('")
    assert "transform: month" in config() and "nonsense" not in config(), config()
    flow.set_code(config().replace("transform: month", "transform: day"), editor="config")
    expect(form.get_by_label("Partition by")).to_have_value("day(order_date)")
    expect(form.locator("[data-settings-note]")).to_have_text("")
    flow.shot("pipeline-settings")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("[data-result]")).to_contain_text("Saved")
    flow.open("/pipelines/default/silver/orders_enriched")
    expect(form.get_by_label("Merge strategy")).to_have_value("incremental")
    expect(form.get_by_label("Unique key")).to_have_value("order_id")
    expect(form.get_by_label("Partition by")).to_have_value("day(order_date)")
    flow.open("/pipelines/default/bronze/orders")
    expect(form.get_by_label("Merge strategy")).to_be_disabled()
    expect(form.locator('[data-annotated="merge_strategy"]')).to_be_visible()
    expect(form.get_by_label("Description")).to_be_disabled()
    expect(form.get_by_label("Partition column")).to_be_enabled()


def error_states(flow):
    """A page that is not there is a 404 page saying so; with the server
    out of reach an action says so and works again once it is back."""
    page = flow.page
    flow.watch.expect(404, r"/pipelines/default/gold/missing$")
    flow.open("/pipelines/default/gold/missing")
    expect(page.get_by_role("alert")).to_contain_text("missing")
    expect(page.get_by_role("heading", level=1)).to_have_text("404 Not Found")
    flow.open("/pipelines/default/silver/paid_orders")
    page.context.set_offline(True)
    flow.watch.expect_failure(r"/preview$")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("[data-result]")).to_contain_text("the server did not answer")
    page.context.set_offline(False)
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("[data-result]")).to_contain_text("Preview: ")


def keyboard_only(flow):
    """With the keyboard alone: the new pipeline form opened, filled and
    sent; out of the code editor again (Escape, Tab); the pipeline deleted
    through its dialog. Each focused control shows its focus."""
    page = flow.page
    flow.open("/pipelines")

    def tab_to(selector, limit=60):
        target = page.locator(selector)
        for _ in range(limit):
            page.keyboard.press("Tab")
            if target.evaluate("el => el === document.activeElement"):
                # The editor draws its focus on its frame.
                outline = page.evaluate(
                    "() => { const el = document.activeElement;"
                    " const s = getComputedStyle(el.closest('.cm-editor') || el);"
                    " return [s.outlineStyle, s.outlineWidth, s.boxShadow]; }"
                )
                assert outline[0] != "none" or outline[2] != "none", f"{selector} shows no focus: {outline}"
                return
        raise AssertionError(f"{selector} not reached by {limit} presses of Tab")

    tab_to("details:has(form[data-new-pipeline]) > summary")
    page.keyboard.press("Enter")
    tab_to('form[data-new-pipeline] select[name="layer"]')
    page.keyboard.press("ArrowDown")  # bronze, then silver
    tab_to('form[data-new-pipeline] input[name="name"]')
    page.keyboard.type("by_keys")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    flow.ready()
    assert page.url.endswith("/pipelines/default/silver/by_keys"), page.url
    tab_to('textarea[name="code"] + .cm-editor .cm-content')
    page.keyboard.type("-- typed ")
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert page.evaluate("!document.activeElement.closest('.cm-editor')"), "focus stayed in the editor"
    tab_to("[data-delete]", limit=200)
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Delete")).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    flow.ready()
    expect(page.get_by_role("link", name="by_keys", exact=True)).to_have_count(0)


def lineage(flow):
    """The sample's DAG: each pipeline once, its last run's status in
    words; focusing silver.orders_enriched lights the two tables it reads,
    the two gold tables reading it and the four edges between; a click
    opens the pipeline."""
    page = flow.page
    flow.open("/lineage")
    expect(page.locator("[data-node]")).to_have_count(5)
    expect(page.locator('[data-node][aria-label="default.bronze.orders: success"]')).to_have_count(1)
    expect(page.locator('[data-node][aria-label="default.gold.top_customers: not run recently"]')).to_have_count(1)
    dag = page.locator("[data-lineage]")
    node = page.locator('[data-node][aria-label^="default.silver.orders_enriched:"]')
    node.focus()
    expect(dag).to_have_attribute("data-upstream", "2")
    expect(dag).to_have_attribute("data-downstream", "2")
    expect(page.locator(".dag .edges path.lit")).to_have_count(4)
    expect(page.locator(".dag .node.lit")).to_have_count(5)
    flow.shot("lineage")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/pipelines/default/silver/orders_enriched$"))


def landing(flow):
    """A zone created from the form; a CSV dropped on it (a synthetic drop
    event carrying a File, as a drag from the desktop delivers); the file
    listed; its first rows previewed."""
    page = flow.page
    flow.open("/landing")
    expect(page.locator(".empty")).to_contain_text("No landing zones yet")
    form = page.locator("form[data-new-zone]")
    form.get_by_label("Name", exact=True).fill("drops")
    form.get_by_label("Description").fill("Files from the browser test")
    form.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/landing/default/drops$"))
    flow.ready()
    expect(page.locator(".empty").first).to_contain_text("No files waiting")
    csv = "id,city\n1,Lisbon\n2,Porto\n3,\n"
    transfer = page.evaluate_handle(
        """text => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], "cities.csv", {type: "text/csv"}));
            return transfer;
        }""",
        csv,
    )
    drop = page.locator("[data-drop]")
    drop.dispatch_event("dragover", {"dataTransfer": transfer})
    expect(drop).to_have_class(re.compile("over"))
    with page.expect_navigation():
        drop.dispatch_event("drop", {"dataTransfer": transfer})
    flow.ready()
    expect(page.locator("table code")).to_have_text("cities.csv")
    page.get_by_role("button", name="Preview").click()
    output = page.locator("[data-output] table")
    expect(output.locator("tbody tr")).to_have_count(3)
    expect(output.locator("tbody tr").nth(2).locator("td").nth(1)).to_have_text("NULL")
    flow.shot("landing")
    flow.open("/landing")
    expect(page.get_by_role("link", name="default.drops")).to_be_visible()


def schedules(flow):
    """A cron schedule added with its next firings previewed (a bad
    expression said so as it is typed), paused, resumed; one after an
    upstream pipeline; deleted."""
    page = flow.page
    flow.open("/schedules")
    form = page.locator("form[data-new-schedule]")
    form.locator("select[name=pipeline]").select_option("default.bronze.orders")
    cron = form.get_by_label("Cron (UTC)")
    preview = form.locator("[data-cron-next]")
    expect(preview).to_contain_text("Next:")
    flow.watch.expect(422, r"/api/v1/cron\?")
    cron.fill("* * *")
    expect(preview).to_contain_text("3 fields")
    expect(cron).to_have_attribute("aria-invalid", "true")
    cron.fill("0 6 * * 1-5")
    expect(preview).to_contain_text("06:00 UTC")
    expect(cron).not_to_have_attribute("aria-invalid", "true")
    flow.shot("schedules-new")
    with page.expect_navigation():
        form.get_by_role("button", name="Add").click()
    flow.ready()
    row = page.locator("[data-schedule]").first
    expect(row).to_contain_text("cron 0 6 * * 1-5 (UTC)")
    expect(row).to_contain_text("active")
    row.get_by_role("button", name="Pause").click()
    expect(page.locator("[data-schedule]").first).to_contain_text("paused")
    page.locator("[data-schedule]").first.get_by_role("button", name="Resume").click()
    expect(page.locator("[data-schedule]").first).to_contain_text("active")

    page.get_by_text("New schedule").click()
    form.locator("select[name=pipeline]").select_option("default.silver.orders_enriched")
    form.get_by_label("after another pipeline").check()
    expect(form.get_by_label("Cron (UTC)")).to_be_hidden()
    form.locator("select[name=after]").select_option("default.bronze.orders")
    form.get_by_role("button", name="Add").click()
    expect(page.locator("[data-schedule]")).to_have_count(2)
    expect(page.locator("[data-schedules]")).to_contain_text("after each success of default.bronze.orders")
    flow.shot("schedules")
    page.locator("[data-schedule]", has_text="cron").get_by_role("button", name="Delete").click()
    expect(page.locator("[data-schedule]")).to_have_count(1)


def lineage_timing(flow, repeat):
    """For rat-benches ui-lineage: when /lineage (and, as the baseline, /)
    became interactive, `repeat` times each in turn, and how long tracing
    a node took; the drawing checked once."""
    page = flow.page
    lineage, home = [], []
    for _ in range(repeat):
        for path, into in (("/lineage", lineage), ("/", home)):
            flow.open(path)
            into.append(page.evaluate("window.rat.readyAt"))
    flow.open("/lineage")
    nodes = page.locator("[data-node]").count()
    started = time.monotonic()
    page.locator("[data-node]").nth(nodes - 1).focus()
    expect(page.locator("[data-lineage]")).to_have_attribute("data-upstream", re.compile(r"^[1-9]"))
    flow.timings.update(
        nodes=nodes,
        lineage_ready_ms=lineage,
        home_ready_ms=home,
        trace_ms=round((time.monotonic() - started) * 1000, 1),
    )


def signin(flow, key):
    """With API keys: the form, a page, a run's live log over the session
    cookie, and a change without the CSRF token refused."""
    page = flow.page
    page.goto(flow.base + "/pipelines/default/silver/paid_orders")
    page.wait_for_url(re.compile(r"/login\?next="))
    flow.ready()
    flow.shot("login")
    field = page.get_by_label("API key")
    expect(field).to_be_focused()
    field.fill("not-the-key-0123456789")
    flow.watch.expect(401, r"/login$")
    field.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("the API key is not valid")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/pipelines/default/silver/paid_orders$"))
    flow.ready()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    # A change without the token is refused, with it accepted.
    flow.watch.expect(403, r"/api/v1/runs$")
    forged = page.evaluate(
        """async () => {
            const r = await fetch("api/v1/runs", {method: "POST",
                headers: {"content-type": "application/json"},
                body: JSON.stringify({pipeline: "silver.paid_orders"})});
            return [r.status, await r.json()];
        }"""
    )
    assert forged[0] == 403 and forged[1]["error"]["code"] == "csrf", forged

    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]{32}$"))
    flow.ready()
    expect(page.locator("[data-run]")).to_have_attribute("data-ended", "success")
    assert page.locator("[data-log] li").count() > 3

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login$"))
    page.goto(flow.base + "/runs")
    page.wait_for_url(re.compile(r"/login\?next=%2Fruns$"))


def main():
    name, base, shots = sys.argv[1:4]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            flow = Flow(browser, base, shots)
            started = time.monotonic()
            if name == "author":
                author(flow)
            elif name == "lineage":
                lineage(flow)
            elif name == "landing":
                landing(flow)
            elif name == "schedules":
                schedules(flow)
            elif name == "lineage-timing":
                lineage_timing(flow, int(sys.argv[4]))
            elif name == "signin":
                signin(flow, sys.argv[4])
            else:
                raise SystemExit(f"no flow {name}")
            flow.watch.check()
            assert not flow.watch.expected, f"expected but not seen: {flow.watch.expected}"
            report = {"flow": name, "seconds": round(time.monotonic() - started, 2)}
            print(json.dumps({**report, **flow.timings}))
        finally:
            browser.close()


if __name__ == "__main__":
    main()
