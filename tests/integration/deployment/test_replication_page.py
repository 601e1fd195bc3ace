"""Issue 13: the Replication page in a real browser, inside a real Airflow.

Headless Chromium (Debian's, driven by Selenium: ``tests.support.browser``) logs in through
Airflow's own login page, opens the page from Airflow's navigation and does what a user
does: tests an endpoint, writes a rule with the form (meeting a validation error first),
previews it, saves it, replicates it and reads its execution, in light and in dark mode.

Each screen is photographed: into pytest's temporary folder, or into ``docs/ui/`` with
``REGREP_UI_SCREENSHOTS=docs/ui`` (``make ui-screenshots``), where the README shows them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from tests.integration.deployment.conftest import STARTED
from tests.support.browser import chromium, element, missing_browser, settle, wait
from tests.support.images import manifest_digest, push_image
from tests.support.registries import RunningRegistry, start_registry
from tests.support.replication_site import REPO, ReplicationSite, replication_site
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

SCREENSHOTS_ENV = "REGREP_UI_SCREENSHOTS"
FRAME = "iframe[title='Replication']"
INVALID_RULE = "name: legacy\nsource: hub\ndestination: mirror\nretries: many\n"
ENDED = ("success", "failed")


@pytest.fixture(scope="module")
def browser_tools() -> None:
    """Fail, never skip, when the browser is missing."""
    missing = missing_browser()
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run `make test`", pytrace=False)


@pytest.fixture(scope="module")
def registries(
    registry_tools: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningRegistry, RunningRegistry]]:
    workdir = tmp_path_factory.mktemp("registries")
    with (
        start_registry(workdir, name="hub") as source,
        start_registry(workdir, name="mirror") as destination,
    ):
        for repository in ("library/alpine", "library/nginx", "library/redis"):
            for tag in ("1.0", "1.1"):
                push_image(source, repository, tag)
        push_image(source, "tools/jq", "1.7")
        # Already mirrored: the preview shows it in place, and one tag that moved since.
        push_image(destination, "mirror/alpine", "1.0", seed="library/alpine:1.0")
        push_image(destination, "mirror/alpine", "1.1", seed="an older alpine")
        yield source, destination


@pytest.fixture(scope="module")
def site(
    browser_tools: None,
    registries: tuple[RunningRegistry, RunningRegistry],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ReplicationSite]:
    with replication_site(tmp_path_factory.mktemp("airflow")) as started:
        source, destination = registries
        started.connect("hub", source)
        started.connect("mirror", destination)
        (started.rules / "legacy.yaml").write_text(INVALID_RULE)
        yield started


@pytest.fixture(autouse=True)
def _report_deployment_logs(request: pytest.FixtureRequest, site: ReplicationSite) -> None:
    request.node.stash.setdefault(STARTED, []).append(site.deployment)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get(SCREENSHOTS_ENV)
    folder = (REPO / configured) if configured else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Page:
    """The browser on Airflow's UI, with the Replication page in its frame."""

    def __init__(self, driver: WebDriver, site: ReplicationSite, screenshots: Path) -> None:
        self.driver = driver
        self.site = site
        self.screenshots = screenshots

    def log_in(self, user: str = "admin") -> None:
        """Through Airflow's own login page, as a person does."""
        self.driver.get(f"{self.site.url}/")
        element(self.driver, "input[name=username]").send_keys(user)
        element(self.driver, "input[name=password]").send_keys(self.site.passwords[user])
        element(self.driver, "button[type=submit]").click()
        element(self.driver, "a[href*='plugin/replication']")

    def open_from_navigation(self) -> None:
        """Click Airflow's navigation entry and enter the page's frame."""
        self.driver.switch_to.default_content()
        element(self.driver, "a[href*='plugin/replication']").click()
        self.enter_frame()

    def enter_frame(self) -> None:
        self.driver.switch_to.default_content()
        frame = element(self.driver, FRAME)
        self.driver.switch_to.frame(frame)
        element(self.driver, "nav.tabs")

    def go(self, fragment: str) -> None:
        """Show one of the page's screens (the page routes by its URL's fragment)."""
        self.driver.execute_script("window.location.hash = arguments[0]", fragment)

    def click(self, css: str) -> None:
        element(self.driver, css).click()

    def button(self, text: str) -> None:
        """Click the visible button or link whose text is ``text``."""
        xpath = f"//*[self::button or self::a][normalize-space(.)='{text}']"
        wait(
            self.driver,
            f"the {text} button",
            lambda d: [e for e in d.find_elements(By.XPATH, xpath) if e.is_displayed()],
        )[0].click()

    def type_into(self, field: str, text: str) -> None:
        control = element(self.driver, f"[data-field='{field}'] input, input[data-field='{field}']")
        control.clear()
        control.send_keys(text)

    def choose(self, field: str, value: str) -> None:
        Select(element(self.driver, f"select[data-field='{field}']")).select_by_value(value)

    def text(self, css: str) -> str:
        return element(self.driver, css).text

    def script(self, code: str) -> Any:
        """Read the page in one step (the page may redraw between two element reads)."""
        return self.driver.execute_script(code)

    def states(self, table: str) -> list[str]:
        """The states of the badges in ``table``, in order."""
        return list(
            self.script(
                f'return [...document.querySelectorAll("{table} .badge")].map(b => b.dataset.state)'
            )
        )

    def photograph(self, screen: str, theme: str) -> None:
        """The whole window (Airflow's navigation and the page) into ``<screen>-<theme>.png``."""
        self.driver.switch_to.default_content()
        settle()
        self.driver.save_screenshot(str(self.screenshots / f"{screen}-{theme}.png"))
        self.enter_frame()

    def set_theme(self, theme: str) -> None:
        """Airflow's colour mode, as its user menu stores it; the UI applies it on reload."""
        self.driver.switch_to.default_content()
        self.driver.execute_script("localStorage.setItem('theme', arguments[0])", theme)
        self.driver.refresh()
        element(self.driver, "a[href*='plugin/replication']")


def wait_for_dag(site: ReplicationSite, dag_id: str) -> None:
    def parsed() -> bool | None:
        dags = site.deployment.api.get("/api/v2/dags", dag_id_pattern=dag_id)["dags"]
        return any(dag["dag_id"] == dag_id for dag in dags) or None

    wait_for(f"the DAG {dag_id}", parsed, timeout=90)


def fill_rule_form(page: Page) -> None:
    page.type_into("name", "mirror-library")
    page.type_into("description", "Mirror the library images")
    page.choose("source", "hub")
    page.type_into("filters.name", "library/**")
    page.choose("destination", "mirror")
    page.type_into("destination_namespace", "mirror")
    page.type_into("worker_queue", "mirror-site")


def test_a_rule_is_written_previewed_run_and_read_in_the_page(
    site: ReplicationSite,
    registries: tuple[RunningRegistry, RunningRegistry],
    screenshots: Path,
    tmp_path: Path,
) -> None:
    _, destination = registries
    with chromium(tmp_path / "profile") as driver:
        page = Page(driver, site, screenshots)
        page.log_in()
        page.set_theme("light")
        page.open_from_navigation()
        assert "/plugin/replication" in page.driver.execute_script("return top.location.pathname")

        # Endpoints: regrep's connections, each tested.
        page.button("Endpoints")
        element(driver, "tr[data-endpoint='hub']")
        page.click("tr[data-endpoint='hub'] button")
        wait(driver, "the test's answer", lambda d: "OK" in page.text("tr[data-endpoint='hub']"))
        assert f"Connected to {registries[0].url} anonymously" in page.text(
            "tr[data-endpoint='hub']"
        )
        page.photograph("endpoints", "light")

        # The form: a cron Airflow cannot run is refused, its error beside the field.
        page.button("Rules")
        assert "Invalid" in page.text("tr[data-rule='legacy']")
        page.button("New rule")
        fill_rule_form(page)
        page.choose("trigger", "scheduled")
        page.type_into("trigger.cron", "0 25 * * *")
        page.button("Save")
        error = element(driver, ".field.invalid[data-field='trigger.cron'] .error")
        assert error.text.startswith('cron "0 25 * * *"')
        assert not (site.rules / "mirror-library.yaml").exists()
        page.photograph("rule-form-error", "light")

        # Preview: what the rule would replicate now, nothing copied.
        page.choose("trigger", "manual")
        page.button("Preview")
        element(driver, "table[aria-label='Preview'] tbody tr td")
        rows = dict(
            page.script(
                "return [...document.querySelectorAll(\"table[aria-label='Preview'] tbody tr\")]"
                ".map(r => [r.cells[0].textContent, r.querySelector('.badge').dataset.state])"
            )
        )
        assert rows["library/alpine:1.0"] == "in_place"
        assert rows["library/alpine:1.1"] == "changed"
        assert rows["library/nginx:1.0"] == "new"
        assert "tools/jq:1.7" not in rows
        assert manifest_digest(destination, "mirror/nginx", "1.0") is None
        page.photograph("rule-preview", "light")

        # Saved: the rule's file is written and its DAG parsed; then it is replicated.
        page.button("Save")
        element(driver, "table[aria-label='Executions']")
        saved = yaml.safe_load((site.rules / "mirror-library.yaml").read_text())
        assert saved["worker_queue"] == "mirror-site"  # which the LocalExecutor ignores
        wait_for_dag(site, "replicate_mirror-library")
        page.button("Replicate now")
        state = wait(
            driver,
            "the execution to succeed",
            lambda d: [s for s in page.states("table[aria-label='Executions']") if s in ENDED],
            timeout=240,
        )
        assert state == ["success"]
        cells = page.script(
            "return [...document.querySelectorAll('tr[data-run] td.num')].map(c => c.textContent)"
        )
        assert cells[:4] == ["5", "1", "0", "6"]  # copied, unchanged, failed, total
        page.photograph("executions", "light")

        page.click("tr[data-run] a")
        element(driver, "table[aria-label='Resources'] tbody tr[data-resource]")
        assert page.states("table[aria-label='Resources']") == ["copied"] * 5
        page.photograph("execution", "light")

        page.button("Rules")
        wait(
            driver,
            "the last execution",
            lambda d: "5 copied" in page.text("tr[data-rule='mirror-library']"),
        )
        page.photograph("rules", "light")

        # A resource's log opens in Airflow's own task page, in the main window.
        page.go("#/rules/mirror-library")
        page.click("tr[data-run] a")
        page.click("tr[data-resource] a[href*='/tasks/copy/mapped/']")
        driver.switch_to.default_content()
        wait(driver, "Airflow's task page", lambda d: "/tasks/copy/mapped/" in d.current_url)
        assert manifest_digest(destination, "mirror/nginx", "1.0") is not None


def test_the_page_follows_airflows_dark_mode(
    site: ReplicationSite, screenshots: Path, tmp_path: Path
) -> None:
    """Every screen again, dark: the page takes Airflow's mode and colours from its UI."""
    with chromium(tmp_path / "profile") as driver:
        page = Page(driver, site, screenshots)
        page.log_in()
        page.set_theme("dark")
        page.open_from_navigation()

        token = "getComputedStyle(%s).getPropertyValue('--chakra-colors-bg').trim()"
        dark, airflows, own = driver.execute_script(
            "return [document.documentElement.classList.contains('dark'), "
            f"{token % 'window.parent.document.documentElement'}, "
            f"{token % 'document.documentElement'}]"
        )
        assert dark is True
        assert own == airflows  # Airflow's own dark background, taken from its UI
        element(driver, "tr[data-rule='mirror-library']")
        page.photograph("rules", "dark")

        page.go("#/rules/mirror-library/edit")
        page.choose("trigger", "scheduled")
        page.type_into("trigger.cron", "0 25 * * *")
        page.button("Save")
        element(driver, ".field.invalid[data-field='trigger.cron'] .error")
        page.photograph("rule-form-error", "dark")
        page.choose("trigger", "manual")
        page.button("Preview")
        element(driver, "table[aria-label='Preview'] tbody tr td")
        page.photograph("rule-preview", "dark")

        page.go("#/rules/mirror-library")
        element(driver, "tr[data-run]")
        page.photograph("executions", "dark")
        page.click("tr[data-run] a")
        element(driver, "tr[data-resource]")
        page.photograph("execution", "dark")
        page.go("#/endpoints")
        page.click("tr[data-endpoint='hub'] button")
        wait(driver, "the test's answer", lambda d: "OK" in page.text("tr[data-endpoint='hub']"))
        page.photograph("endpoints", "dark")

        # A switch of Airflow's mode while the page is open is followed at once.
        driver.switch_to.default_content()
        driver.execute_script("document.documentElement.classList.replace('dark', 'light')")
        page.enter_frame()
        wait(
            driver,
            "the page to turn light",
            lambda d: d.execute_script(
                "return document.documentElement.classList.contains('light')"
            ),
        )
