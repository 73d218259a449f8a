"""Signing in: with an API key, and at an OpenID Provider."""

import re

from playwright.sync_api import expect


def signin(flow, key, reader_key):
    """With API keys: the form, a page, a run's live log over the session
    cookie, a change without the CSRF token refused, sharing on Settings;
    then a reader's 403 where a table's rows would be."""
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

    share_and_revoke(flow)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login$"))
    page.goto(flow.base + "/runs")
    page.wait_for_url(re.compile(r"/login\?next=%2Fruns$"))

    # Someone who may see a table but not read it: its page, and a 403
    # said in words where its rows would be.
    page.get_by_label("API key").fill(reader_key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/runs$"))
    flow.watch.expect(403, r"/preview")  # the page reads its rows at once
    flow.open("/tables/default/silver/paid_orders")
    expect(page.locator("[data-table] [role=status]")).to_contain_text("403: ")


def share_and_revoke(flow):
    """Sharing: from a table's page (the dialog offers that table), then on
    Settings: the grant listed, an object that is not a table's name
    refused inside the dialog (which stays open, saying why), the grant
    revoked after a confirmation."""
    page = flow.page
    flow.open("/tables/default/silver/paid_orders")
    page.get_by_role("region", name="Sharing").get_by_role("button", name="Share…").click()
    dialog = page.get_by_role("dialog", name="Share")
    expect(dialog.get_by_label("Table or pattern")).to_have_value("default.silver.paid_orders")
    dialog.get_by_label("With").fill("role:analyst")
    dialog.get_by_label("Level").select_option("write")
    dialog.get_by_role("button", name="Share", exact=True).click()
    expect(page.locator("[data-sharing-result]")).to_have_text(
        "Shared default.silver.paid_orders with role:analyst (write)."
    )
    expect(dialog).to_be_hidden()

    flow.open("/settings")
    sharing = page.get_by_role("region", name="Sharing")
    rows = sharing.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("default.silver.paid_orders")
    expect(rows.first).to_contain_text("role:analyst")
    expect(rows.first).to_contain_text("write")
    sharing.get_by_role("button", name="Share…").click()
    dialog.get_by_label("Table or pattern").fill("paid_orders")
    dialog.get_by_label("With").fill("role:analyst")
    flow.watch.expect(422, r"/api/v1/sharing$")
    dialog.get_by_role("button", name="Share", exact=True).click()
    expect(dialog.get_by_role("alert")).to_contain_text("422: ")
    expect(dialog.get_by_role("alert")).to_contain_text("ns.layer.name")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    flow.shot("settings-sharing")
    rows.first.get_by_role("button", name=re.compile(r"^Revoke write on default\.silver\.paid_orders")).click()
    confirm = page.get_by_role("dialog", name="Revoke this grant?")
    expect(confirm).to_contain_text("role:analyst")
    with page.expect_navigation():
        confirm.get_by_role("button", name="Revoke").click()
    flow.ready()
    expect(sharing).to_contain_text("No grants you may see yet")


def oidc(flow):
    """At a real OpenID Provider (node-oidc-provider's development login
    and consent pages): the way there from a page asked for, the person
    back on that page signed in as who the provider said, a run started
    as them with its live log over the session; a callback this browser
    did not start refused."""
    page = flow.page
    page.goto(flow.base + "/runs?status=failed")
    page.wait_for_url(re.compile(r"/login\?next="))
    flow.ready()
    flow.shot("login-oidc")
    page.get_by_role("link", name="Sign in with your identity provider").click()
    page.wait_for_url(re.compile(r"/interaction/"))
    page.locator('input[name="login"]').fill("alice")
    page.locator('input[name="password"]').fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/runs\?status=failed$"))
    flow.ready()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    flow.open("/settings")
    me = page.get_by_role("region", name="Who you are")
    expect(me).to_contain_text("alice")
    expect(me).to_contain_text("alice@example.com")
    expect(me).to_contain_text("admin")

    flow.open("/pipelines/default/bronze/customers")
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]{32}$"))
    flow.ready()
    expect(page.locator("[data-run]")).to_have_attribute("data-ended", "success")
    expect(page.locator("main")).to_contain_text("by alice")

    flow.watch.expect(400, r"/login/callback")
    page.goto(flow.base + "/login/callback?code=stolen&state=forged")
    expect(page.get_by_role("alert")).to_contain_text("sign in again")
