"""What a pipeline's author does in the web IDE, step by step."""

import re
from pathlib import Path

from playwright.sync_api import expect


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
    page.get_by_text("Plan (DuckDB's").click()
    expect(page.locator("[data-plan]")).to_contain_text(re.compile(r"SCAN|PROJECTION|FILTER"))
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
                # The editor draws its focus on its frame, once it has
                # handled the focus event (a class it sets): wait for it.
                shows_focus = """() => {
                    const el = document.activeElement;
                    const s = getComputedStyle(el.closest('.cm-editor') || el);
                    return s.outlineStyle !== 'none' || s.boxShadow !== 'none';
                }"""
                try:
                    page.wait_for_function(shows_focus, timeout=20_000)
                except Exception as e:
                    raise AssertionError(f"{selector} shows no focus") from e
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
