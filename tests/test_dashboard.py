"""The dashboard: page logic with Streamlit's AppTest, and the real app in headless Chromium."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from avu.store import IndexStore
from avu.ingest import IngestConfig
from pipelines.ingest import run_ingest

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
ARTIFACTS = Path(__file__).resolve().parents[1] / "runs" / "test-artifacts"


@pytest.fixture(scope="module")
def index(shared_data, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dash")
    folder = root / "media"
    folder.mkdir()
    for name in ("manifesto.mp4", "manifesto.srt", "flower.webm"):
        (folder / name).symlink_to(shared_data / "video" / name)
    (folder / "broken.mp4").write_bytes(b"\0" * 64)
    run_ingest([str(folder)], str(root / "index"), IngestConfig(asr="off"))
    (folder / "flower.webm").unlink()  # an indexed video whose file has gone missing
    return root / "index"


def app(index: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("AVU_INDEX", str(index))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.shared
def test_search_page_finds_a_spoken_line(index, monkeypatch):
    at = app(index, monkeypatch)
    at.text_input(key="query").input("you can find the text version of this").run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "manifesto.mp4" in text and "00:00:03.9" in text
    at.text_input(key="query").input("zzzz qqqq xxxx").run()  # nothing relevant: still no crash
    assert not at.exception


def page(name: str, arg: Path) -> AppTest:
    """One page function of dashboard/_views.py as a tiny app."""
    return AppTest.from_string(f"import avu\nfrom dashboard import _views\n"
                               f"_views.{name}(avu.open_index({str(arg)!r}))", default_timeout=120)


@pytest.mark.shared
def test_other_pages_render(index):
    import avu

    for name in ("video_page", "corpus_page"):
        at = page(name, index).run()
        assert not at.exception, (name, at.exception)
    corpus = page("corpus_page", index).run()
    assert any("broken.mp4" in e.value and "not a readable media container" in e.value for e in corpus.error)
    flower = next(v["video_id"] for v in avu.open_index(index).videos() if v["path"].endswith("flower.webm"))
    at = page("video_page", index)
    at.session_state["video"] = flower
    at.run()
    assert not at.exception and any("Video file not found" in w.value for w in at.warning)


def test_empty_index_and_reports(tmp_path, monkeypatch):
    IndexStore(tmp_path / "empty", create=True)
    at = app(tmp_path / "empty", monkeypatch)
    assert any("no videos yet" in i.value for i in at.info)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "bench.json").write_text('{"rt_factor_1": 91.0, "machine": "x"}')
    at = AppTest.from_string(f"from pathlib import Path\nfrom dashboard import _views\n"
                             f"_views.reports_page(Path({str(tmp_path / 'reports')!r}))", default_timeout=60).run()
    assert not at.exception and len(at.dataframe) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.shared
@pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("chromedriver")),
                    reason="Debian's chromium and chromium-driver are needed (.ci/run installs them)")
def test_browser_search_and_screenshots(index, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "avu", "dashboard", str(index), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    opts = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'chrome'}", "--window-size=1400,1000"):
        opts.add_argument(flag)
    opts.binary_location = shutil.which("chromium")
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        deadline = time.time() + 60
        while True:  # wait for the server
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline, server.stdout.read1().decode() if server.stdout else ""
                time.sleep(0.5)
        driver.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(driver, 90)
        box = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "input[type='text']")))
        box.send_keys("you can find the text version of this", Keys.ENTER)
        wait.until(lambda d: "manifesto.mp4" in d.page_source and "score" in d.page_source)
        assert "00:00:03.9" in driver.page_source
        driver.save_screenshot(str(ARTIFACTS / "search.png"))
        for name, expect in (("video", "Timeline"), ("corpus", "broken.mp4")):
            driver.get(f"http://127.0.0.1:{port}/{name}")
            wait.until(lambda d: expect in d.page_source)
            time.sleep(2)  # let the charts draw
            driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    finally:
        driver.quit()
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
