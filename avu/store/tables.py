"""The persistent index: two LanceDB tables under one folder (or object-store URI).

- `videos`: one row per file: id (content hash), path, status (`done` / `failed` / `indexing`),
  error, probe info, config and model versions, timings.
- `segments`: one row per segment: times, text, per-modality embeddings (null where missing),
  measured signals, a small key-frame JPEG, room for event scores, and what perception saw, heard
  and read (tags as JSON, three MiniLM embeddings `seen_emb` / `heard_emb` / `read_emb`).
- `cues`: one row per subtitle/ASR cue: times, text, source, a MiniLM embedding (subtitle search),
  and its speaker (`S1`, ...).

Who speaks when lives on the `videos` row (`speakers_json`: the turns, talk time and one voice
centroid per speaker, `avu.speakers.Diarization.to_dict(centroids=True)`), so it becomes visible
in the same upsert that says `done`, with no table of its own to keep in step.

A video is visible to readers only when its `videos` row says `done`, and that row is written
after its segments (one commit for all of them), so a video is fully indexed or not at all, even
if the writer dies in between: the next run deletes the leftovers and writes it again. Lance keeps
versions, so readers open the index safely while an ingest writes.
"""
from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

import pyarrow as pa

from avu.ingest.features import JOINT_DIM
from avu.models.text import MINILM_DIM

OBJECT_STORES = ("s3", "gs", "az", "abfs")  # URI schemes LanceDB writes to besides local folders
MARKER = "avu-index.json"  # written at the root of a local index; identifies the folder
FORMAT_VERSION = 3  # 2: the perception columns; 3: speakers (videos.speakers_json, cues.speaker); an
# older index gains the missing columns (null) when written to
PERCEPTION_DIM = MINILM_DIM  # seen / heard / read embeddings live in MiniLM's text space

VIDEOS = pa.schema([
    pa.field("video_id", pa.string(), nullable=False),
    pa.field("path", pa.string()),
    pa.field("status", pa.string()),  # done | failed | indexing
    pa.field("error", pa.string()),
    pa.field("duration", pa.float64()),
    pa.field("size_bytes", pa.int64()),
    pa.field("n_segments", pa.int32()),
    pa.field("has_video", pa.bool_()),
    pa.field("has_audio", pa.bool_()),
    pa.field("text_source", pa.string()),
    pa.field("info_json", pa.string()),
    pa.field("config_hash", pa.string()),
    pa.field("config_json", pa.string()),
    pa.field("models_json", pa.string()),
    pa.field("notes_json", pa.string()),
    pa.field("seconds", pa.float64()),  # wall seconds from plan to write
    pa.field("ingested_at", pa.float64()),  # unix time
    pa.field("speakers_json", pa.string()),  # who speaks when: Diarization.to_dict(centroids=True); null: not diarized
])


def _vec(dim: int) -> pa.DataType:
    return pa.list_(pa.float32(), dim)


PERCEPTION_FIELDS = [  # what perception saw, heard and read in a segment (null: not perceived)
    pa.field("heard_json", pa.string()),  # JSON [[AudioSet label, score], ...] (YAMNet), best first
    pa.field("seen_json", pa.string()),  # JSON [[ImageNet label, score], ...] (MobileNetV2), best first
    pa.field("objects_json", pa.string()),  # JSON [[COCO label, score, count], ...] (YOLOX-Nano)
    pa.field("boxes_json", pa.string()),  # JSON [[COCO label, score, [x0, y0, x1, y1]], ...] key frame, 0-1
    pa.field("read_json", pa.string()),  # JSON [[on-screen text line, score], ...] (OCR)
    pa.field("read_text", pa.string()),  # the on-screen lines joined by newlines (verbatim search)
    pa.field("seen_emb", _vec(PERCEPTION_DIM)),  # MiniLM of what is seen (ImageNet + COCO labels)
    pa.field("heard_emb", _vec(PERCEPTION_DIM)),  # MiniLM of what is heard (AudioSet labels)
    pa.field("read_emb", _vec(PERCEPTION_DIM)),  # MiniLM of the on-screen text
]

SEGMENTS = pa.schema([
    pa.field("video_id", pa.string(), nullable=False),
    pa.field("seg", pa.int32()),
    pa.field("start", pa.float64()),
    pa.field("end", pa.float64()),
    pa.field("text", pa.string()),
    pa.field("text_source", pa.string()),
    pa.field("language", pa.string()),
    pa.field("speech_emb", _vec(MINILM_DIM)),
    pa.field("visual_emb", _vec(JOINT_DIM)),
    pa.field("audio_emb", _vec(JOINT_DIM)),
    pa.field("fused_emb", _vec(JOINT_DIM)),
    pa.field("audio_db", pa.float32()),
    pa.field("motion", pa.float32()),
    pa.field("keyframe_jpeg", pa.binary()),
    pa.field("event_scores", pa.string()),  # JSON {label: score}, filled by event detection
    pa.field("config_hash", pa.string()),
    *PERCEPTION_FIELDS,
])


CUES = pa.schema([
    pa.field("video_id", pa.string(), nullable=False),
    pa.field("idx", pa.int32()),  # cue number within the video, in time order
    pa.field("start", pa.float64()),
    pa.field("end", pa.float64()),
    pa.field("text", pa.string()),
    pa.field("text_source", pa.string()),  # file:<name> | asr:<model>
    pa.field("language", pa.string()),
    pa.field("emb", _vec(MINILM_DIM)),  # MiniLM of the cue with a little of its neighbours' context
    pa.field("config_hash", pa.string()),
    pa.field("speaker", pa.string()),  # S1, S2, ... of the video's diarization (null: unknown)
])
ADDED = {"videos": [VIDEOS.field("speakers_json")], "cues": [CUES.field("speaker")]}  # format 3's columns


SEGMENT_VECTORS = ("speech_emb", "seen_emb", "heard_emb", "read_emb")  # MiniLM columns a text query searches


class InvalidIndex(Exception):
    """The index folder is missing, foreign or unreadable."""


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


class IndexStore:
    """Read and write an avu index. `create=True` makes a new one when the folder holds none."""

    def __init__(self, uri: str | os.PathLike, *, create: bool = False):
        self.uri = self.check(uri, create=create)
        import lancedb  # here, not at the top: the embed actors write fragments with `lance` alone, and
        # importing lancedb costs ~2 s more per process (its namespace client)

        # readers see commits made after they opened the index (checked at most once a second)
        self.db = lancedb.connect(self.uri, read_consistency_interval=timedelta(seconds=1))
        names = set(self.db.list_tables().tables)
        self.videos = self.db.open_table("videos") if "videos" in names else self.db.create_table(
            "videos", schema=VIDEOS, exist_ok=True)
        self.segments = self.db.open_table("segments") if "segments" in names else self.db.create_table(
            "segments", schema=SEGMENTS, exist_ok=True)
        self.cues = self.db.open_table("cues") if "cues" in names else self.db.create_table(
            "cues", schema=CUES, exist_ok=True)
        self._segment_columns: frozenset | None = None
        if create:
            self._upgrade()

    def _upgrade(self) -> None:
        """An older index gains the perception (format 2) and speaker (format 3) columns, null for
        its rows; its videos' config hash no longer matches, so the next ingest re-indexes them."""
        for table, new in ((self.segments, PERCEPTION_FIELDS), (self.videos, ADDED["videos"]),
                           (self.cues, ADDED["cues"])):
            missing = [f for f in new if f.name not in table.schema.names]
            if missing:
                table.add_columns(missing)
        marker = Path(self.uri) / MARKER
        if "://" not in self.uri and marker.is_file():
            marker.write_text(json.dumps({"format": "avu-index", "version": FORMAT_VERSION}))

    def has_column(self, column: str) -> bool:
        """Whether the segments table has `column` (an index from before perception lacks those).
        Read once per handle: columns are only ever added, by a writer's `_upgrade`."""
        if self._segment_columns is None or column not in self._segment_columns:
            self._segment_columns = frozenset(self.segments.schema.names)
        return column in self._segment_columns

    @staticmethod
    def check(uri: str | os.PathLike, *, create: bool = False) -> str:
        """Validate (and with `create`, initialise) the index location without opening LanceDB."""
        uri = str(uri)
        if uri.startswith("~"):
            uri = os.path.expanduser(uri)
        if not uri.strip() or "\x00" in uri:
            raise InvalidIndex(f"{uri!r}: not a valid index location (empty, or a NUL byte)")
        if "://" in uri and uri.split("://", 1)[0].lower() not in OBJECT_STORES:
            raise InvalidIndex(f"{uri}: unsupported index location (a local folder, or one of "
                               f"{', '.join(s + '://' for s in OBJECT_STORES)})")
        if "://" not in uri:
            root = Path(os.path.realpath(uri))  # "a/../b" is b, even where a does not exist
            uri = str(root)
            if root.exists() and not root.is_dir():
                raise InvalidIndex(f"{root}: not a folder")
            marker = root / MARKER
            if not marker.exists():
                if not create:
                    raise InvalidIndex(f"{root}: no avu index here (missing {MARKER}); run `avu ingest` first")
                if root.exists() and any(p.name != MARKER for p in root.iterdir()):
                    raise InvalidIndex(f"{root}: folder is not empty and is not an avu index; refusing to write")
                root.mkdir(parents=True, exist_ok=True)
                marker.write_text(json.dumps({"format": "avu-index", "version": FORMAT_VERSION}))
            else:
                try:
                    meta = json.loads(marker.read_text())
                except (OSError, ValueError) as e:
                    raise InvalidIndex(f"{marker}: unreadable index marker ({e})") from None
                if meta.get("format") != "avu-index" or meta.get("version", 0) > FORMAT_VERSION:
                    raise InvalidIndex(f"{root}: unsupported index format {meta}")
        return uri

    # -- reading ----------------------------------------------------------------------------
    def video_rows(self, where: str | None = None) -> list[dict]:
        q = self.videos.search()
        if where:
            q = q.where(where)
        return q.limit(None).to_list()

    def done(self) -> dict[str, str]:
        """video_id -> config_hash of every video fully indexed."""
        return {r["video_id"]: r["config_hash"] for r in self.video_rows("status = 'done'")}

    def segment_rows(self, video_id: str, columns: list[str] | None = None) -> list[dict]:
        return self._rows(self.segments, video_id, columns, "seg")

    def cue_rows(self, video_id: str, columns: list[str] | None = None) -> list[dict]:
        return self._rows(self.cues, video_id, columns, "idx")

    @staticmethod
    def _rows(table, video_id: str, columns, order: str) -> list[dict]:
        q = table.search().where(f"video_id = {_quote(video_id)}")
        if columns:
            q = q.select(list(dict.fromkeys([*columns, order])))
        return sorted(q.limit(None).to_list(), key=lambda r: r[order])

    # -- writing (one writer at a time: the pipeline's writer actor) -------------------------
    def _upsert_video(self, row: dict) -> None:
        full = {f.name: row.get(f.name) for f in VIDEOS}
        data = pa.Table.from_pylist([full], schema=VIDEOS)
        self.videos.merge_insert("video_id").when_matched_update_all().when_not_matched_insert_all().execute(data)

    def _clear(self, vid: str) -> None:
        for t in (self.segments, self.cues):
            t.delete(f"video_id = {_quote(vid)}")

    def write_video(self, video: dict, rows: list[dict], cues: list[dict] = ()) -> None:
        """Replace one video's segments and cues and mark it done: all of it, or (after a crash) none."""
        vid = video["video_id"]
        self._upsert_video({**video, "status": "indexing", "error": None})
        self._clear(vid)
        if rows:
            self.segments.add(pa.Table.from_pylist(rows, schema=SEGMENTS))
        if cues:
            self.cues.add(pa.Table.from_pylist(list(cues), schema=CUES))
        self._upsert_video({**video, "status": "done", "error": None, "n_segments": len(rows),
                            "ingested_at": time.time()})

    def write_failed(self, video: dict, error: str) -> None:
        vid = video["video_id"]
        self._clear(vid)
        self._upsert_video({**video, "status": "failed", "error": error, "n_segments": 0,
                            "ingested_at": time.time()})

    def remove(self, vid: str) -> None:
        """Delete a video and everything indexed for it."""
        self._clear(vid)
        self.videos.delete(f"video_id = {_quote(vid)}")

    def optimize(self) -> dict:
        """Compact the many small commits of a run into few files, then build (or refresh) the
        approximate vector indexes of the tables that have grown past the size where exact
        search stops being fast. Returns the indexes built, by column."""
        from avu.store.ann import ensure_ann

        for t in (self.videos, self.segments, self.cues):
            t.optimize()
        cols = [(self.segments, c) for c in SEGMENT_VECTORS if self.has_column(c)] + [(self.cues, "emb")]
        built = {col: ensure_ann(t, col) for t, col in cols}
        return {c: b for c, b in built.items() if b}
