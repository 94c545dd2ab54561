"""lsr serve's page in a real browser: Debian's headless Chromium driven by Selenium (``make test`` installs both).

The page is loaded from a live uvicorn server on 127.0.0.1, a query is typed and sent with the keyboard, two indexes are
compared side by side, and a hit's explanation panel is opened; the screenshot goes to ``<out-dir>/serve/page.png``.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from lsr import config

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def server(bm25_index, channel_index):  # noqa: F811
    import uvicorn

    from lsr.serve import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app({"bm25": bm25_index, "inference-free-bm25": channel_index})
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail(f"{CHROMIUM} and {CHROMEDRIVER} are needed (Debian's chromium and chromium-driver): `make browser` installs them")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_the_page_searches_compares_and_explains_with_the_keyboard(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 20)
    browser.get(server)
    wait.until(lambda driver: len(Select(driver.find_element(By.ID, "index")).options) == 2)
    Select(browser.find_element(By.ID, "index")).select_by_value("inference-free-bm25")
    Select(browser.find_element(By.ID, "compare")).select_by_value("bm25")
    browser.find_element(By.TAG_NAME, "body").send_keys("/")  # the keyboard shortcut focuses the query box
    query = browser.switch_to.active_element
    assert query.get_attribute("id") == "q"
    query.send_keys("aspirin cancer", Keys.ENTER)
    wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, "#results.two li.hit")))

    columns = browser.find_elements(By.CSS_SELECTOR, "#results section.column")
    assert [column.find_element(By.TAG_NAME, "h2").text for column in columns] == ["inference-free-bm25", "bm25"]
    first = columns[0].find_element(By.CSS_SELECTOR, "li.hit")
    assert first.get_attribute("data-docid") == "d1" and "Aspirin and colorectal cancer" in first.text
    shared = columns[0].find_elements(By.CSS_SELECTOR, "li.hit.shared .also a")
    assert shared and shared[0].get_attribute("href").endswith("#hit-b-d1")  # the documents both lists hold link to each other

    summary = first.find_element(By.TAG_NAME, "summary")
    summary.send_keys(Keys.ENTER)  # details open from the keyboard
    panel = wait.until(lambda _: first.find_element(By.CSS_SELECTOR, "details.explain[open] table.terms"))
    rows = [row.text for row in panel.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert any(row.startswith("aspirin") and "BM25" in row for row in rows), rows  # the BM25 channel's term
    assert any(row.startswith("##rin") for row in rows), rows  # a learned WordPiece term
    d11 = columns[0].find_element(By.ID, "hit-a-d11")
    assert "from expansion" in d11.find_element(By.TAG_NAME, "summary").text  # "cancer" is not in its text: the model added it

    folder = config.out_dir() / "serve"
    folder.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(folder / "page.png"))
    assert (folder / "page.png").stat().st_size > 10_000

    browser.get(server + "?q=" + "x" * 2001)  # an error is shown on the page, not thrown
    assert "Search failed" in wait.until(lambda driver: driver.find_element(By.CSS_SELECTOR, "#results .error")).text

