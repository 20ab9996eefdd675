"""The Dagster UI in a real headless browser: an operator's backfill of two marketplaces from the Materialize dialog.

A real ``dagster-webserver`` and ``dagster-daemon`` on a Postgres-backed instance configured by deploy/dagster.yaml
(TaggingRunCoordinator, run-queue limits, pools, MonitoredRunLauncher), the simulator over HTTP, Debian's
``/usr/bin/chromium`` driven by Playwright (no browser download; the Makefile installs chromium). The test

1. opens the asset graph (the ``raw_amazon`` group's lineage),
2. opens the partitions view of ``sp_sales_traffic``,
3. launches a backfill of 3 days × US + CA (both Amazon region ``na``) from the UI's own Materialize dialog,
4. waits until the partitions view shows those 6 partitions materialised,

then checks through the instance's run records that every run of the backfill carried ``amazon/region=na``
(given by TaggingRunCoordinator; the UI sets no such tag) and that no more runs per region were in progress at once
than the instance allows. The ``amazon/region`` limit is deploy/dagster.yaml's with its value lowered to 1: with
deploy's 3, two runs could never exceed it and the check could not fail; at 1 the two NA runs must run one after
the other, which only happens if the UI's runs carry the tag. Everything else is deploy/dagster.yaml as shipped.

Screenshots of each step go to ``.chalkola/ui-test-screenshots/<time>/`` (not in git; printed, and named in every
failure message).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from ui_stack import REPO, Stack, dagster_stack

sys.path.insert(0, str(REPO / "benchmarks"))
from load_probes import QueueSampler, limit_of, max_overlap, run_limits  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO / ".chalkola" / "ui-test-screenshots"
KEEP_SCREENSHOT_FOLDERS = 5
MARKETPLACES = ("US", "CA")  # both region na: the region limit applies to them together
ALL_MARKETPLACES = "US,CA,DE"
REGION_LIMIT = 1
ASSET = "sp_sales_traffic"
UI_TIMEOUT_MS = 90_000
MATERIALISED_TIMEOUT_S = 900
BACKFILL_DONE = ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED")


def _days() -> tuple[dt.date, dt.date]:
    """Three complete local days in US and CA, older than S&T's availability lag."""
    today = dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=6), today - dt.timedelta(days=4)


@pytest.fixture
def shots(capsys: pytest.CaptureFixture[str]) -> Iterator[Path]:
    folder = SCREENSHOTS / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    folder.mkdir(parents=True, exist_ok=True)
    for old in sorted(p for p in SCREENSHOTS.iterdir() if p.is_dir())[:-KEEP_SCREENSHOT_FOLDERS]:
        shutil.rmtree(old, ignore_errors=True)
    with capsys.disabled():
        print(f"\n[ui test] screenshots: {folder}")
    yield folder


@pytest.mark.timeout(1800)  # start-up ≤ 420 s + the backfill ≤ 900 s on a starved machine, with room to spare
def test_ui_backfill_of_two_marketplaces_completes_under_the_region_limit(
    pg_server_url: str,
    simulator,
    clean_faults,
    tmp_path: Path,
    shots: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert CHROMIUM.exists(), (
        f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install -y chromium)"
    )
    import dagster as dg
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright

    first, last = _days()
    started = time.monotonic()
    with dagster_stack(
        pg_server_url,
        simulator,
        tmp_path / "stack",
        marketplaces=ALL_MARKETPLACES,
        start_date=first - dt.timedelta(days=20),
        limits={"amazon/region": REGION_LIMIT},
    ) as stack:
        limits = run_limits(stack.config)
        assert limit_of("amazon/region=na", limits) == REGION_LIMIT
        with dg.DagsterInstance.from_config(str(stack.home)) as instance, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.set_default_navigation_timeout(UI_TIMEOUT_MS)
            # Dagster's one-time newsletter prompt ("Join the Dagster community") would cover the page a second
            # after it loads: mark it seen on the instance (what its Skip button does), and dismiss it if it shows
            seen = httpx.post(
                f"{stack.base_url}/graphql", json={"query": "mutation { setNuxSeen }"}, timeout=60
            )
            assert seen.status_code == 200, seen.text
            page.add_locator_handler(
                page.get_by_text("Join the Dagster community"),
                lambda: page.get_by_role("button", name="Skip").click(),
            )
            step = _Steps(page, shots, stack)
            sampler = QueueSampler(instance, limits, [], interval=0.25)
            try:
                with step("01-asset-graph", "the asset graph of group raw_amazon"):
                    page.goto(f"{stack.base_url}/locations/chalkola_pipelines/asset-groups/raw_amazon")
                    for name in ("sp_sales_traffic", "sp_orders", "ads_sp_advertised_product"):
                        expect(page.get_by_text(name, exact=True).first).to_be_visible()

                with step("02-partitions-view", f"the partitions view of {ASSET}"):
                    page.goto(f"{stack.base_url}/assets/{ASSET}?view=partitions")
                    expect(page.get_by_text(re.compile(r"^Missing \(\d+\)$"))).to_be_visible()
                    expect(page.get_by_text("Materialized (0)", exact=True)).to_be_visible()

                with step("03-materialize-dialog", "the Materialize dialog with 3 days × US + CA"):
                    page.get_by_role("button", name="Materialize…").first.click()
                    dialog = page.get_by_role("dialog")
                    expect(dialog.get_by_text(f"Launch runs to materialize {ASSET}")).to_be_visible()
                    dates = dialog.get_by_placeholder("ex: ", exact=False)
                    dates.fill(f"[{first}...{last}]")
                    dates.press("Enter")
                    dialog.get_by_text("Select a partition or create one").click()
                    for code in MARKETPLACES:
                        page.get_by_role("menuitem").filter(
                            has=page.get_by_text(code, exact=True)
                        ).first.click()
                    dialog.get_by_text(f"Launch runs to materialize {ASSET}").click()  # closes the menu
                    expect(dialog.get_by_text("6 partitions", exact=True)).to_be_visible()
                    expect(dialog.get_by_text(re.compile("Backfills in multiple runs"))).to_be_visible()

                with step("04-backfill-launched", "the backfill launched from the dialog"):
                    dialog.get_by_role("button", name="Launch backfill").click()
                    expect(dialog).to_be_hidden()
                    backfill = _wait(lambda: instance.get_backfills(), 120, "the backfill in the instance")[0]
                    assert backfill.tags.get("dagster/from_ui") == "true", backfill.tags

                with step("05-partitions-materialised", "the partitions view showing 6 materialised"):
                    deadline = time.monotonic() + MATERIALISED_TIMEOUT_S
                    while True:
                        stack.check_alive()
                        page.goto(f"{stack.base_url}/assets/{ASSET}?view=partitions")
                        label = page.get_by_text(re.compile(r"^Materialized \(\d+\)$"))
                        expect(label).to_be_visible()
                        if label.inner_text() == "Materialized (6)":
                            break
                        failed = [
                            r.run_id
                            for r in instance.get_runs(
                                dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id})
                            )
                            if r.status == dg.DagsterRunStatus.FAILURE
                        ]
                        assert not failed, (
                            f"backfill runs failed: {failed} (daemon log: {stack.work}/daemon.log)"
                        )
                        assert time.monotonic() < deadline, (
                            f"after {MATERIALISED_TIMEOUT_S} s the UI shows {label.inner_text()!r}, not "
                            "'Materialized (6)'"
                        )
                        time.sleep(10)

                done = _wait(
                    lambda: (b := instance.get_backfill(backfill.backfill_id)).status.value in BACKFILL_DONE and b,
                    300,
                    "the daemon to mark the backfill completed",
                )  # fmt: skip
                assert done.status.value == "COMPLETED_SUCCESS", done.status
                with step("06-backfill-succeeded", "the backfill's page: Succeeded"):
                    page.goto(f"{stack.base_url}/runs/b/{backfill.backfill_id}")
                    expect(page.get_by_text("Succeeded", exact=True).first).to_be_visible()
                with step("07-backfill-runs", "the backfill's runs"):
                    page.goto(f"{stack.base_url}/runs/b/{backfill.backfill_id}?tab=runs")
                    expect(page.get_by_text("Success", exact=True)).to_have_count(2)
                    expect(page.get_by_text("amazon/region: na", exact=True)).to_have_count(2)
                with step(
                    "08-backfill-timeline", "the backfill's runs on the timeline: one NA run at a time"
                ):
                    page.goto(f"{stack.base_url}/runs/b/{backfill.backfill_id}?tab=timeline")
                    page.wait_for_load_state("networkidle")
            except PlaywrightError as exc:
                raise AssertionError(f"{exc}\nscreenshots: {shots}") from exc
            finally:
                sampler.stop()
                browser.close()

            runs = instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
            intervals = []
            for record in runs:
                dequeued = instance.get_records_for_run(
                    record.dagster_run.run_id, of_type=dg.DagsterEventType.RUN_DEQUEUED
                ).records
                begin = min((e.timestamp for e in dequeued), default=record.start_time or 0.0)
                intervals.append((begin, record.end_time or time.time(), record.dagster_run.tags))
            observed = max_overlap(intervals, limits)

    wall = time.monotonic() - started
    with capsys.disabled():
        print(
            f"[ui test] {len(runs)} backfill runs, most in progress at once per tag {observed['by_tag']} "
            f"(sampled {sampler.max_by_tag}), wall {wall:.0f} s; screenshots: {shots}"
        )
    assert len(runs) == 2, [
        r.dagster_run.tags for r in runs
    ]  # the backfill policy: one range run per marketplace
    for record in runs:
        tags = record.dagster_run.tags
        assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS, tags
        assert tags.get("amazon/region") == "na", f"a UI backfill run without its region tag: {tags}"
        assert tags.get("amazon/api") == "sales_traffic", tags
    assert {r.dagster_run.tags["dagster/asset_partition_range_start"] for r in runs} == {
        f"{first}|{code}" for code in MARKETPLACES
    }
    for name, seen in {**observed["by_tag"], **sampler.max_by_tag}.items():
        if name.startswith("amazon/region="):
            assert seen <= REGION_LIMIT, f"{seen} runs of {name} at once (limit {REGION_LIMIT}); {shots}"
    assert observed["by_tag"].get("amazon/region=na") == 1, observed


class _Steps:
    """``with step(name, what):`` — a screenshot after the step, and on failure one named in the error."""

    def __init__(self, page, folder: Path, stack: Stack) -> None:
        self.page, self.folder, self.stack = page, folder, stack

    def __call__(self, name: str, what: str) -> _Step:
        return _Step(self, name, what)


class _Step:
    def __init__(self, steps: _Steps, name: str, what: str) -> None:
        self.steps, self.name, self.what = steps, name, what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        path = self.steps.folder / (self.name + (".png" if exc is None else "-FAILED.png"))
        try:
            self.steps.page.screenshot(path=str(path), full_page=True)
        except Exception as shot_error:  # noqa: BLE001 - the step's own error matters more
            path = Path(f"(no screenshot: {shot_error})")
        if exc is None:
            return False
        raise AssertionError(
            f"UI step {self.name} ({self.what}) failed: {type(exc).__name__}: {exc}\nscreenshot: {path}\n"
            f"logs: {self.steps.stack.work}"
        ) from exc


def _wait(predicate: Callable[[], object], timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
