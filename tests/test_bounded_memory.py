"""Training data larger than a query memory limit streams in bounded memory, as record
batches and as training dataset files.

The reads run in a process of their own, whose peak resident memory (VmHWM) is reset
once the data is in and the spine built, and again between the two reads, so each peak
is that read's alone. The answer is ~13 times the DuckDB limit and more than three
times the bound asserted on the process's growth: a read that held the answer, as
``training_data`` does, could not stay under it. Every value is checked: feature
``f{j}`` of user ``u`` at hour ``k`` is ``u * 100 + k + j / 64`` (exact in float64), so
the newest row at a spine time tells the expected values.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import granary

USERS, HOURS, FEATURES = 1_000, 6, 50
SPINE_ROWS = 1_500_000
LIMIT = "48MB"
HOUR_US = 3_600_000_000
BASE_US = 1_735_689_600_000_000  # 2025-01-01T00:00:00Z
REPO = Path(__file__).resolve().parent.parent


def _rss_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        return int(re.search(rf"^{field}:\s+(\d+)", f.read(), re.MULTILINE).group(1)) / 1024


def _group() -> pa.Table:
    users = np.repeat(np.arange(USERS), HOURS)
    hours = np.tile(np.arange(HOURS), USERS)
    columns = {f"f{j}": users * 100.0 + hours + j / 64 for j in range(FEATURES)}
    ts = pa.array(BASE_US + hours * HOUR_US).cast(pa.timestamp("us", tz="UTC"))
    return pa.table({"user_id": users, "ts": ts, **columns})


def _spine() -> pa.Table:
    rng = np.random.default_rng(7)
    offsets = rng.integers(0, HOURS * HOUR_US, SPINE_ROWS)
    ts = pa.array(BASE_US + offsets).cast(pa.timestamp("us", tz="UTC"))
    users = rng.integers(0, USERS, SPINE_ROWS)
    return pa.table({"user_id": users, "ts": ts, "label": users % 2})


def _wrong_rows(batch: pa.RecordBatch) -> int:
    """Rows of a batch whose features or label differ from what their key and time imply."""
    users = batch.column("user_id").to_numpy()
    hours = (batch.column("ts").cast(pa.int64()).to_numpy() - BASE_US) // HOUR_US
    bad = batch.column("label").to_numpy() != users % 2
    for j in range(FEATURES):
        bad |= batch.column(f"f{j}").to_numpy(zero_copy_only=False) != users * 100.0 + hours + j / 64
    return int(bad.sum())


def _reset_peak() -> float:
    """VmHWM := VmRSS, so the peak from here on is what follows; the RSS now."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _rss_mib("VmRSS")


def read_in_bounded_memory(home: Path) -> dict[str, float]:
    """The measured process: the view's training data for the spine under LIMIT, streamed
    as batches, then written as a training dataset file and read back a batch at a time."""
    project = granary.login(home=home, memory_limit=LIMIT)
    fs = project.get_feature_store()
    group = fs.create_feature_group("wide", version=1, primary_key=["user_id"], event_time="ts")
    group.insert(_group())
    view = fs.create_feature_view("wide", version=1, query=group.select_all(), labels=["label"])
    spine = _spine()
    before = _reset_peak()
    rows = wrong = answer = 0
    for batch in view.training_data_batches(spine=spine, primary_key=True, event_time=True):
        rows += batch.num_rows
        answer += batch.nbytes
        wrong += _wrong_rows(batch)
    growth = _rss_mib("VmHWM") - before
    before = _reset_peak()
    version, _ = view.create_training_data(spine=spine)
    file_growth = _rss_mib("VmHWM") - before
    info = view.get_training_dataset(version)
    file = pq.ParquetFile(Path(info.location) / "train.parquet")
    file_wrong = sum(_wrong_rows(b) for b in file.iter_batches(batch_size=64 * 1024))
    limit = project.backend.engine.cursor().sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
    return {
        "rows": rows,
        "wrong_rows": wrong,
        "answer_mib": answer / 2**20,
        "growth_mib": growth,
        "file_rows": file.metadata.num_rows,
        "file_recorded_rows": info.options["rows"]["train"],
        "file_f0_count": info.statistics["train"]["f0"]["count"],
        "file_wrong_rows": file_wrong,
        "file_growth_mib": file_growth,
        "duckdb_limit": limit,
        "spilled_files": sum(1 for _ in (home / "tmp").rglob("*")) if (home / "tmp").exists() else 0,
    }


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's VmHWM reset")
def test_training_data_larger_than_the_memory_limit_streams_in_bounded_memory(tmp_path):
    script = "import json, sys; from tests.test_bounded_memory import read_in_bounded_memory as r; "
    script += "print(json.dumps(r(__import__('pathlib').Path(sys.argv[1]))))"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "home")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["rows"] == SPINE_ROWS and found["wrong_rows"] == 0, found
    assert found["duckdb_limit"].startswith("4"), found  # 48MB as DuckDB shows it (45.7 MiB)
    assert found["answer_mib"] > 600, found
    # The answer is ~13 times the DuckDB limit; the process grew by the limit, a few
    # batches of ~28 MB and the allocator's slack, a third of the answer at most.
    assert found["growth_mib"] < found["answer_mib"] / 3, found
    # The same rows written to a file: streamed to it, statistics read back from it.
    assert found["file_rows"] == found["file_recorded_rows"] == found["file_f0_count"] == SPINE_ROWS, found
    assert found["file_wrong_rows"] == 0, found
    assert found["file_growth_mib"] < found["answer_mib"] / 3, found
