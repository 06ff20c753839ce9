"""Compaction of a feature group's offline table, on every backend.

Many small inserts leave many small Parquet files; ``fg.compact()`` rewrites them into
few, keeps the rows, and keeps time travel to every earlier commit working.
"""

from __future__ import annotations

import pandas as pd
import pytest
from deltalake import DeltaTable

from granary_core.errors import InvalidInput
from tests.remote_stack import PLANES, offline_location

INSERTS = 12


def files_read(project, folder: str) -> list[str]:
    """The Parquet files the newest version of a group's Delta table reads."""
    options = None
    if not hasattr(project.backend, "home"):
        options = PLANES[project.backend.host].region.s3.storage_options()
    return DeltaTable(offline_location(project, folder), storage_options=options).file_uris()


def batch(i: int) -> pd.DataFrame:
    """Rows of keys i*3 .. i*3+2; batch 6 also updates key 0 (a merge that rewrites a file)."""
    keys = [i * 3, i * 3 + 1, i * 3 + 2] + ([0] if i == 6 else [])
    values = [float(k) + i for k in keys[:3]] + ([100.0] if i == 6 else [])
    return pd.DataFrame({"k": keys, "ts": pd.to_datetime(["2025-01-01"] * len(keys), utc=True), "v": values})


def sorted_rows(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values("k").reset_index(drop=True)


def test_compaction_reduces_files_and_keeps_rows_and_time_travel(project, fs):
    fg = fs.create_feature_group("small", version=1, primary_key=["k"], event_time="ts")
    for i in range(INSERTS):
        fg.insert(batch(i))
        if i == 3:
            early = next(iter(fg.commit_details(limit=1).values()))["committed_on"]
            at_early = sorted_rows(fg.read())
    before_files = files_read(project, "small_v1")
    before = sorted_rows(fg.read())
    assert len(before_files) >= INSERTS // 2, before_files

    commit = fg.compact()

    assert commit.operation == "compact"
    assert (commit.rows_inserted, commit.rows_updated, commit.rows_deleted) == (0, 0, 0)
    after_files = files_read(project, "small_v1")
    assert len(after_files) < len(before_files) and len(after_files) <= 2, after_files
    pd.testing.assert_frame_equal(sorted_rows(fg.read()), before)
    assert len(before) == INSERTS * 3 and before.loc[0, "v"] == 100.0
    # time travel to a commit before compaction still reads that commit's rows
    pd.testing.assert_frame_equal(sorted_rows(fg.read(wallclock_time=early)), at_early)
    assert len(at_early) == 12
    commits = fg.commit_details()
    assert next(iter(commits.values()))["operation"] == "compact"
    assert len(commits) == INSERTS + 1

    # writes go on after a compaction, and another one compacts them again
    fg.insert(batch(INSERTS))
    fg.compact()
    assert len(files_read(project, "small_v1")) <= 2
    assert len(fg.read()) == (INSERTS + 1) * 3
    pd.testing.assert_frame_equal(sorted_rows(fg.read(wallclock_time=early)), at_early)


def test_compacting_a_group_without_data_is_refused(fs):
    fg = fs.create_feature_group("empty", version=1, primary_key=["k"], event_time="ts")
    with pytest.raises(InvalidInput, match="'empty' v1: compact: the group has no data"):
        fg.compact()


def test_time_travel_survives_delta_log_cleanup(tmp_path):
    """delta-rs checkpoints every 100 commits and then deletes log entries past the table's
    log retention (30 days by default); a version whose log is gone no longer loads. Ages
    the log by 60 days and runs that checkpoint and cleanup: every commit still reads."""
    import glob
    import os
    import time

    import granary

    project = granary.login(home=tmp_path / "home")
    fs = project.get_feature_store()
    fg = fs.create_feature_group("aged", version=1, primary_key=["k"], event_time="ts")
    fg.insert(batch(0))
    first = next(iter(fg.commit_details(limit=1).values()))["committed_on"]
    at_first = sorted_rows(fg.read())
    fg.insert(batch(1))
    location = offline_location(project, "aged_v1")
    sixty_days_ago = time.time() - 60 * 86400
    for log in glob.glob(os.path.join(location, "_delta_log", "*.json")):
        os.utime(log, (sixty_days_ago, sixty_days_ago))
    table = DeltaTable(location)
    table.create_checkpoint()
    table.cleanup_metadata()

    pd.testing.assert_frame_equal(sorted_rows(fg.read(wallclock_time=first)), at_first)
    assert len(sorted_rows(fg.read())) == 6
