"""The web IDE in a real browser: Debian's Chromium driven by Playwright
against a real `rat serve` that tests/browser.rs started.

    python flows.py FLOW BASE_URL SCREENSHOT_DIR [ARGS...]

Each flow is what a person does, step by step, asserting what they would
see. Any console error, uncaught exception, failed request or HTTP error
the flow did not expect fails it. Screenshots at 1280x800 and 390x844
are written to SCREENSHOT_DIR. The steps live beside this file: author.py,
pages.py, signin.py, over harness.py.
"""

import json
import sys
import time

from playwright.sync_api import sync_playwright

from author import author
from harness import Flow
from pages import landing, lineage, lineage_timing, live_run, schedules
from signin import oidc, signin


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
                signin(flow, sys.argv[4], sys.argv[5])
            elif name == "oidc":
                oidc(flow)
            elif name == "live-run":
                live_run(flow, sys.argv[4])
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
