"""The lineage, landing zone and schedule pages, and the lineage's timing
at scale."""

import re
import time
from pathlib import Path

from playwright.sync_api import expect


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


def live_run(flow, gate):
    """A run's page while it runs: the timeline shows the phases done and
    the one it is in, as its log arrives; once the gate opens and the run
    ends, each phase's time and the quality results, no reload."""
    page = flow.page
    flow.open("/pipelines/default/bronze/waits")
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]{32}$"))
    flow.ready()
    phases = page.locator("[data-phase-list] li")
    expect(page.locator("[data-log]")).to_contain_text("waiting for the gate")
    expect(page.locator("[data-phase-list] li.phase-running")).to_contain_text("execute")
    expect(phases.first).to_contain_text("load done")
    expect(phases.last).to_contain_text("publish waiting")
    expect(page.locator("[data-status]")).to_have_text("running")
    flow.shot("run-live")
    Path(gate).write_text("open")
    expect(page.locator("[data-run]")).to_have_attribute("data-ended", "success")
    expect(page.locator("[data-phase-list] li.phase-running")).to_have_count(0)
    expect(phases.first).to_contain_text(re.compile(r"load \d+ ms"))
    expect(page.locator("[data-status]")).to_have_text("success")
    quality = page.locator('[data-live="quality"]')
    expect(quality.get_by_role("heading", name="Quality tests")).to_be_visible()
    expect(quality).to_contain_text("a_is_one passed")
