"""The dashboard: its helpers as plain functions, its pages with Streamlit's AppTest (over a small
stand-in for the `Index` API, and over a real index of the shared clips), and the real app in
headless Chromium (navigation: a late subtitle, a search hit, coming back to Search)."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from avu.events.detect import Event
from avu.events.stored import EventTimeline
from avu.speakers._types import Turn
from avu.summaries.summarize import Shot, Summary
from dashboard import _timeline
from dashboard._corpus import corpus_frame
from dashboard._safe import from_query, link_name
from dashboard._text import blank, clock, plain
from tests import factory

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


# -- the helpers --------------------------------------------------------------------------------
def test_text_stays_text():
    md = plain("audio book at www.marxists.org” $5 and $6 :red[x] *a* mail@example.com https://x.y")
    assert "\u2060www" in md and "\u2060https" in md and "@\u2060" in md  # the autolinker finds nothing
    assert "\\$5" in md and "\\:red\\[x\\]" in md and "\\*a\\*" in md  # no LaTeX, colour or emphasis
    assert md.replace("\\", "").replace("\u2060", "") == \
        "audio book at www.marxists.org” $5 and $6 :red[x] *a* mail@example.com https://x.y"
    assert plain("one\ntwo") == "one  \ntwo"
    assert clock(5.3) == "00:00:05.3" and clock(84.94) == "00:01:24.9" and clock(None) == ""
    assert clock(84.94, hours=False) == "01:24.9" and clock(3725.2, hours=False) == "01:02:05.2"
    assert blank(None) == "" and blank(float("nan")) == "" and blank(0) == 0


ROWS = [{"video_id": "a1", "path": "/v/talk.mp4", "duration": 10.0},
        {"video_id": "b2", "path": "/v/x/clip.mp4", "duration": 5.0},
        {"video_id": "c3", "path": "/v/y/clip.mp4", "duration": 7.0}]


class _Rows:
    def videos(self):
        return ROWS


def test_links_name_an_indexed_video_by_id_or_unique_file_name():
    assert link_name(ROWS, "a1") == "talk.mp4" and link_name(ROWS, "b2") == "b2"  # clip.mp4 is not unique
    assert from_query(_Rows(), {"video": "talk.mp4", "t": "3.5"}) == ("a1", 3.5, None)
    assert from_query(_Rows(), {"video": "b2", "t": "99"}) == ("b2", 5.0, None)  # clamped to the video
    for name, why in (("clip.mp4", "several"), ("/v/talk.mp4", "no video"), ("../talk.mp4", "no video")):
        vid, _, problem = from_query(_Rows(), {"video": name})
        assert vid is None and why in problem
    assert from_query(_Rows(), {"video": "a1", "t": "inf"}) == ("a1", 0.0, from_query(_Rows(), {"video": "a1",
                                                                                                 "t": "x"}).problem)
    assert from_query(_Rows(), {}) == (None, 0.0, None)


PERCEIVED = [  # what `Index.perception` returns per segment (a 5.3 s clip in 2 s segments)
    {"start": 0.0, "end": 2.0, "seen": [["hare", 0.6], ["meadow", 0.2]], "heard": [["Wind", 0.5]],
     "objects": [["person", 0.7, 2]], "read": [["www.example.org", 0.9]]},
    {"start": 2.0, "end": 4.0, "seen": [["hare", 0.5], ["tree", 0.3]], "heard": [["Speech", 0.8], ["Wind", 0.1]],
     "objects": [], "read": []},
    {"start": 4.0, "end": 5.3, "seen": [["tree", 0.4], ["bird", 0.01]], "heard": [["Speech", 0.7]],
     "objects": [["dog", 0.4, 1]], "read": None},
]


def test_lanes_join_runs_keep_the_strongest_labels_and_span_the_clip():
    from avu.media import Cue

    turns = [Turn("S2", 0.5, 2.0, 0.9), Turn("S1", 2.0, 5.0, 0.8)]
    rows = _timeline.lanes(said=[Cue(0.5, 2.0, "hello"), Cue(2.0, 5.0, "there")], turns=turns,
                           perception=PERCEIVED, cfg=_timeline.TagLanes(top=2))
    lanes = set(rows["lane"])
    assert {"said", "S1", "S2", "seen: hare", "seen: tree", "heard: Speech", "heard: Wind", "object: person",
            "object: dog", "on-screen text"} == lanes  # top 2 seen labels: hare, tree (not meadow, bird)
    hare = rows[rows.lane == "seen: hare"]
    assert len(hare) == 1 and (hare.start.iloc[0], hare.end.iloc[0], hare.score.iloc[0]) == (0.0, 4.0, 0.6)
    assert _timeline.read_runs(rows) == [(0.0, 2.0, "www.example.org")]
    colours = _timeline.speaker_colours(["S2", "S1", None])
    assert colours["S1"] != colours["S2"] and set(rows[rows.kind == "speaker"].colour) == set(colours.values())
    spec = _timeline.lane_chart(rows, duration=5.3, now=2.0).to_dict()
    assert spec["layer"][0]["encoding"]["x"]["scale"]["domain"] == [0.0, 5.3]
    assert spec["layer"][1]["mark"]["type"] == "rule"  # the player's time
    assert _timeline.lanes().empty


def test_signals_reach_the_end_of_the_last_segment():
    segs = [{"start": 0.0, "end": 2.0, "audio_db": -30.0}, {"start": 2.0, "end": 4.0, "audio_db": None},
            {"start": 4.0, "end": 5.3, "audio_db": -20.0}]
    frame = _timeline.signal_frame(segs, "audio_db")
    assert frame.values.tolist() == [[0.0, -30.0], [4.0, -20.0], [5.3, -20.0]]
    spec = _timeline.signal_chart(frame, title="audio", duration=5.3).to_dict()
    assert spec["layer"][0]["encoding"]["x"]["scale"]["domain"] == [0.0, 5.3]
    assert _timeline.signal_frame(segs, "motion").empty


def test_corpus_has_blanks_not_none():
    df = corpus_frame([{"path": "/v/a.mp4", "status": "done", "duration": 5.3, "n_segments": 3, "text_source": None,
                        "seconds": 0.7, "error": None},
                       {"path": "/v/b.mp4", "status": "failed", "duration": None, "n_segments": None,
                        "text_source": None, "seconds": None, "error": "b.mp4: not a readable media container"}])
    assert not df.isin([None, "None"]).any().any()
    assert df.loc[0, "error"] == "" and df.loc[1, "speech"] == "" and math.isnan(df.loc[1, "duration (s)"])
    assert df["duration (s)"].dtype.kind == "f"


# -- the pages over a stand-in for the Index API --------------------------------------------------
@dataclass(frozen=True)
class SpokenCue:  # a cue as `Index.subtitles` gives it once speakers are indexed
    start: float
    end: float
    text: str
    speaker: str | None = None


@dataclass(frozen=True)
class FakeHit:  # the fields of `avu.Hit` the Search page reads, with `matched` (issue 17)
    video_id: str
    path: str
    start: float
    end: float
    score: float
    scores_by_modality: dict
    subtitle: str | None = None
    matched: dict = field(default_factory=dict)


class FakeResult(list):  # a search result that says what it searched (as `avu.index.SearchResult`)
    held = ("speech", "seen", "heard", "read")
    searched = ("speech", "seen", "heard")
    unavailable = {"read": "nothing on screen"}
    weak, weak_below = True, 0.7


class FakeIndex:
    """The `Index` methods the dashboard uses (see /work/notes/requests_h7.md), over fixed rows of two
    real tiny clips: `talk` (speech, two speakers, perception) and `quiet` (nothing said or perceived)."""

    def __init__(self, folder: str):
        self.talk, self.quiet = Path(folder) / "talk.mkv", Path(folder) / "quiet.mkv"
        self.searches = 0
        self.budgets: list[float] = []  # each summary's budget

    def videos(self, where=None, *, status="done"):
        return [{"video_id": "t1", "path": str(self.talk), "duration": 5.3, "status": "done", "has_audio": True},
                {"video_id": "q2", "path": str(self.quiet), "duration": 2.0, "status": "done", "has_audio": True}]

    def segments(self, video, columns=None):
        n = 3 if video == "t1" else 1
        return [{"start": 2.0 * i, "end": min(2.0 * i + 2, 5.3 if video == "t1" else 2.0), "text": None,
                 "audio_db": -30.0 + i, "motion": 0.1 * i} for i in range(n)]

    def subtitles(self, video):
        if video != "t1":
            return []
        return [SpokenCue(0.5, 2.0, "see www.marxists.org”", "S1"), SpokenCue(2.0, 4.5, "a late line", "S2")]

    def speakers(self, video):
        return [Turn("S1", 0.5, 2.0, 0.9), Turn("S2", 2.0, 4.5, 0.8)] if video == "t1" else []

    def perception(self, video):
        nothing = {"seen": None, "heard": None, "objects": None, "read": None}
        return PERCEIVED if video == "t1" else [{"start": 0.0, "end": 2.0, **nothing}]

    def summary(self, video, budget=0.15):
        d = 5.3 if video == "t1" else 2.0
        self.budgets.append(budget)
        return Summary(video, "", d, budget * d, [Shot(0.0, 2.0, 0.4, False), Shot(2.0, d, 0.9, video == "t1")])

    def events(self, video):
        found = [Event("dog", 2.0, 4.0, 0.9)] if video == "t1" else []
        return EventTimeline(found, sounds="esc10", threshold=0.8, min_duration=2.0)  # an index without perception

    def keyframe(self, video, t):
        return None

    def modalities(self):
        return ["speech", "seen", "heard", "read"]

    def search(self, query, k=10, *, modalities=None, where=None, weights=None):
        self.searches += 1
        return FakeResult([FakeHit("t1", str(self.talk), 2.0, 4.5, 0.61, {"speech": 0.5, "seen": 0.7},
                                   "a late line", {"seen": [["hare", 0.6]], "read": ["www.example.org"]})])


@pytest.fixture(scope="module")
def fake_clips(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fake_clips")
    factory.make_video(folder / "talk.mkv", audio=True)
    factory.make_video(folder / "quiet.mkv", audio=True)
    return folder


def fake_app(folder: Path, page: str = "video", *, away: bool = False) -> AppTest:
    """The real pages (`_nav.pages`) over a `FakeIndex`, on `page`. A session flag `away` draws
    another page instead, as a visit elsewhere does (Streamlit forgets that page's widgets)."""
    script = ("import streamlit as st\nfrom pathlib import Path\nfrom dashboard import _nav\n"
              "from tests.test_dashboard import FakeIndex\n"
              f"idx = st.session_state.setdefault('idx', FakeIndex({str(folder)!r}))\n"
              "if st.session_state.get('away'):\n    st.write('elsewhere')\nelse:\n"
              f"    st.navigation(_nav.pages(idx, Path('runs'), default={page!r})).run()\n")
    return AppTest.from_string(script, default_timeout=60)


def _spec(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def test_video_page_draws_what_is_said_seen_heard_read_and_who_speaks(fake_clips):
    at = fake_app(fake_clips).run()
    assert not at.exception, at.exception
    assert at.query_params["video"] == "talk.mkv" and at.query_params["t"] == "0"  # the URL names it
    names = _spec(at)[0]["layer"][0]["encoding"]["y"]["sort"]  # the lanes, top to bottom
    assert names[:3] == ["said", "S1", "S2"]
    assert {"seen: hare", "heard: Speech", "object: person", "on-screen text"} <= set(names)
    assert all(s["layer"][0]["encoding"]["x"]["scale"]["domain"] == [0.0, 5.3] for s in _spec(at))
    coloured = [h.proto.body for h in at.get("html") if "<b>S" in h.proto.body]
    assert len(coloured) == 2 and "<b>S1</b> see www.marxists.org”" in coloured[0]  # escaped text, no link
    assert not any("Not in this index" in c.value for c in at.caption)
    assert "on screen 00:00.0-00:02.0: www.example.org" in [x.value for x in at.text]
    assert "dog" in at.dataframe[0].value.to_string()
    assert "**Sound events** · at least 0.8 (ESC-10 model) for 2 s or more" in [m.value for m in at.markdown]
    # 15% of 5.3 s is under the 1 s shortest shot: the smallest budget that holds one, and why
    assert at.session_state["idx"].budgets[-1] == 0.19
    assert "**Key shots** (1.0 s summary, 19% of the video: 15% is under the 1 s shortest shot)" in \
        [m.value for m in at.markdown]


def test_clicks_move_the_player_and_the_url(fake_clips):
    at = fake_app(fake_clips).run()
    at.button(key="cue1").click().run()  # the late line
    assert at.session_state["t"] == 2.0 and at.query_params["t"] == "2"
    assert any("scrollIntoView" in h.proto.body for h in at.get("html"))  # the player is brought into view
    assert next(v for v in at.get("video")).proto.start_time == 2
    at.button(key="shot0").click().run()  # the one selected key shot, 2.0-5.3
    assert at.session_state["t"] == 2.0
    at.selectbox(key="video_pick").select("q2").run()
    assert at.session_state["video"] == "q2" and at.session_state["t"] == 0.0
    assert at.query_params["video"] == "quiet.mkv"


def test_a_link_opens_its_moment_once(fake_clips):
    at = fake_app(fake_clips)
    at.query_params["video"], at.query_params["t"] = "t1", "4.2"
    at.run()
    assert at.session_state["video"] == "t1" and at.session_state["t"] == 4.2
    assert at.query_params["video"] == "talk.mkv"  # rewritten with the file name, time kept
    at.button(key="cue0").click().run()
    assert at.session_state["t"] == 0.5  # the link is not applied again
    bad = fake_app(fake_clips)
    bad.query_params["video"] = "/etc/passwd"
    bad.run()
    assert any("names no video" in w.value for w in bad.warning) and bad.session_state["video"] == "t1"


def test_empty_parts_say_why_in_one_line(fake_clips):
    at = fake_app(fake_clips)
    at.session_state["video"] = "q2"
    at.run()
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "No subtitles" in captions and "Nothing said, seen, heard or read" in captions
    assert "No sound events: nothing reached 0.8 (ESC-10 model) for 2 s or more" in captions
    assert "Not in this index: what is seen" in captions
    assert not at.text_input and not any("Subtitles" in m.value for m in at.markdown)  # no "Subtitles (0)" filter
    assert len(_spec(at)) == 2  # the audio level and visual change, nothing empty


def test_search_keeps_its_query_and_results_and_links_each_hit(fake_clips):
    at = fake_app(fake_clips, "search").run()
    at.text_input(key="query").input("a hare").run()
    assert not at.exception, at.exception
    assert "seen: hare 0.60 · read: “www.example.org”" in [t.value for t in at.text]
    assert "“a late line”" in [t.value for t in at.text]
    notes = " ".join(c.value for c in at.caption)
    assert "Searched: speech, seen, heard" in notes.replace("\\", "") and "nothing on screen" in notes
    assert "below 0.70" in at.warning[0].value
    link = at.get("page_link")[0].proto
    assert (link.page, link.query_string) == ("video", "video=talk.mkv&t=2")
    at.session_state["away"] = True
    at.run()
    assert "query" not in at.session_state  # Streamlit forgot the widget...
    at.session_state["away"] = False
    at.run()
    assert at.text_input(key="query").value == "a hare"  # ...the page did not
    assert at.get("page_link") and at.session_state["idx"].searches == 1  # the results, not searched again


# -- the pages over a real index of the shared clips ----------------------------------------------
@pytest.fixture(scope="module")
def index(shared_data, tmp_path_factory) -> Path:
    from avu.ingest import IngestConfig
    from pipelines.ingest import IngestOptions, run_ingest

    root = tmp_path_factory.mktemp("dash")
    folder = root / "media"
    folder.mkdir()
    for name in ("manifesto.mp4", "manifesto.srt", "flower.webm", "big_buck_bunny_240p_5s.mp4"):
        (folder / name).symlink_to(shared_data / "video" / name)
    (folder / "broken.mp4").write_bytes(b"\0" * 64)
    run_ingest([str(folder)], str(root / "index"), IngestOptions(config=IngestConfig(asr="off")))
    (folder / "flower.webm").unlink()  # an indexed video whose file has gone missing
    return root / "index"


def real_app(index: Path, page: str) -> AppTest:
    return AppTest.from_string(
        "import avu\nfrom pathlib import Path\nimport streamlit as st\nfrom dashboard import _nav\n"
        f"st.navigation(_nav.pages(avu.open_index({str(index)!r}), Path('runs'), default={page!r})).run()",
        default_timeout=120)


@pytest.mark.slow
@pytest.mark.shared
def test_real_index_pages(index, monkeypatch):
    monkeypatch.setenv("AVU_INDEX", str(index))
    at = AppTest.from_file(APP, default_timeout=120).run()  # the app itself opens on Search
    assert not at.exception, at.exception
    at.text_input(key="query").input("you can find the text version of this").run()
    assert not at.exception, at.exception
    assert any("manifesto\\.mp4" in m.value and "00:00:03.9" in m.value for m in at.markdown)
    assert dict(p.split("=") for p in at.get("page_link")[0].proto.query_string.split("&"))["video"] == "manifesto.mp4"
    at.text_input(key="query").input("zzzz qqqq xxxx").run()  # nothing relevant: still no crash
    assert not at.exception
    corpus = real_app(index, "corpus").run()
    assert any("broken.mp4" in e.value and "not a readable media container" in e.value for e in corpus.error)
    video = real_app(index, "video")
    video.query_params["video"] = "flower.webm"
    video.run()
    assert not video.exception and any("Video file not found" in w.value for w in video.warning)
    assert any("No subtitles" in c.value for c in video.caption)
    bunny = real_app(index, "video")
    bunny.query_params["video"] = "big_buck_bunny_240p_5s.mp4"
    bunny.run()
    ends = [s["layer"][0]["encoding"]["x"]["scale"]["domain"][1] for s in _spec(bunny)]
    assert ends and all(e == pytest.approx(5.312, abs=0.01) for e in ends)  # the 5.3 s clip, not 4.0 s


def test_empty_index_and_reports(tmp_path, monkeypatch):
    from avu.store import IndexStore

    IndexStore(tmp_path / "empty", create=True)
    monkeypatch.setenv("AVU_INDEX", str(tmp_path / "empty"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception and any("no videos yet" in i.value for i in at.info)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "bench.json").write_text('{"rt_factor_1": 91.0, "machine": "x"}')
    at = AppTest.from_string(f"from pathlib import Path\nfrom dashboard import _corpus\n"
                             f"_corpus.reports_page(Path({str(tmp_path / 'reports')!r}))", default_timeout=60).run()
    assert not at.exception and len(at.dataframe) == 1
    assert isinstance(at.dataframe[0].value, pd.DataFrame)


# -- the real app in headless Chromium -----------------------------------------------------------
ARTIFACTS = Path(__file__).resolve().parents[1] / "runs" / "test-artifacts"
_PLAYER = ("const v = document.querySelector('video'); if (!v) return null; const r = v.getBoundingClientRect();"
           " return {t: v.currentTime, top: r.top, bottom: r.bottom, height: window.innerHeight};")


@pytest.fixture()
def browser(index, tmp_path):
    """(driver, base URL) of `avu dashboard INDEX` started from the repository root."""
    import os
    import shutil
    import socket
    import subprocess
    import sys
    import time

    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("Debian's chromium and chromium-driver are needed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "server.log"
    server = subprocess.Popen([sys.executable, "-m", "avu", "dashboard", str(index), "--port", str(port)],
                              cwd=Path(APP).parents[1], stdout=log.open("w"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    opts = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
                 "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={tmp_path / 'chrome'}",
                 "--window-size=1400,1000"):
        opts.add_argument(flag)
    opts.binary_location = shutil.which("chromium")
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        deadline = time.time() + 90
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline and server.poll() is None, log.read_text()
                time.sleep(0.5)
        yield driver, f"http://127.0.0.1:{port}"
    finally:
        driver.quit()
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    assert "deprecat" not in log.read_text().lower(), log.read_text()  # no deprecated Streamlit calls


def _until(driver, condition, what: str, seconds: float = 90):
    """`condition(driver)` once truthy; on time-out the failure shows what the page said instead."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, seconds).until(condition)
    except TimeoutException:
        pytest.fail(f"no {what} after {seconds:g} s; the page reads:\n{driver.find_element(By.TAG_NAME, 'body').text}")


def _idle(driver) -> None:
    """Wait until Streamlit has finished running the page script (its status widget is gone)."""
    from selenium.webdriver.common.by import By

    _until(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "[data-testid='stStatusWidget']"),
           "end of the page run")


@pytest.mark.slow
@pytest.mark.shared
def test_browser_navigation(browser):
    from urllib.parse import parse_qs, urlparse

    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver, base = browser
    wait = WebDriverWait(driver, 90)
    driver.get(base + "/")
    box = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "input[type='text']"))
    assert not driver.find_elements(By.XPATH, "//*[normalize-space(text())='Deploy']")  # no Deploy button
    _idle(driver)  # a run still going when typing starts could commit half the query (seen under CI's load)
    query = "you can find the text version of this"
    box.send_keys(query, Keys.ENTER)
    hit = _until(driver, lambda d: [a for a in d.find_elements(By.CSS_SELECTOR, "a[href*='video?video=manifesto.mp4']")
                                    if "00:00:03.9" in a.text], "the manifesto hit at 00:00:03.9")[0]
    assert box.get_attribute("value") == query
    driver.save_screenshot(str(ARTIFACTS / "search.png"))
    t_hit = float(parse_qs(urlparse(hit.get_attribute("href")).query)["t"][0])
    hit.click()  # a hit -> the Video page at the hit's time
    wait.until(lambda d: (driver.execute_script(_PLAYER) or {}).get("t") == int(t_hit))
    assert urlparse(driver.current_url).path == "/video"
    assert parse_qs(urlparse(driver.current_url).query)["video"] == ["manifesto.mp4"]
    wait.until(lambda d: "www.marxists.org" in d.page_source)  # the subtitle, as text...
    assert not driver.find_elements(By.CSS_SELECTOR, "a[href*='marxists']")  # ...not a link
    driver.save_screenshot(str(ARTIFACTS / "video.png"))

    driver.set_window_size(620, 1000)  # narrow: the subtitles sit below the player
    late = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".st-key-cues button"))[-1]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", late)
    assert driver.execute_script(_PLAYER)["bottom"] < 0  # the player is out of sight...
    t_cue = late.text
    late.click()
    wait.until(lambda d: parse_qs(urlparse(d.current_url).query)["t"] != [f"{t_hit:.1f}"])
    t_url = float(parse_qs(urlparse(driver.current_url).query)["t"][0])
    assert t_url > 80 and t_cue.endswith(f"{t_url % 60:04.1f}")  # the last line, at 1:2x.x
    wait.until(lambda d: (driver.execute_script(_PLAYER) or {}).get("t") == int(t_url))
    player = driver.execute_script(_PLAYER)
    assert 0 <= player["top"] and player["bottom"] <= player["height"], player  # ...and now in view
    driver.save_screenshot(str(ARTIFACTS / "video_narrow.png"))

    driver.set_window_size(1400, 1000)
    driver.find_element(By.CSS_SELECTOR, "[data-testid='stSidebarNav'] a[href$='/']").click()  # back to Search
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "a[href*='video?video=manifesto.mp4']"))
    assert driver.find_element(By.CSS_SELECTOR, "input[type='text']").get_attribute("value") == query
    driver.get(base + "/corpus")
    wait.until(lambda d: "broken.mp4" in d.page_source)
    driver.save_screenshot(str(ARTIFACTS / "corpus.png"))
