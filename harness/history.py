"""The results history: every run appended to an embedded DuckDB database, and change points
found in each series with Apache Otava (E-Divisive means, the successor of Hunter).

Tables (one database file, ``results/history.duckdb`` by default):

``runs``       run_id, started_at (the run's first record), git_commit, git_branch, source
``summaries``  one row per run × setup × workload × params × device × phase: median_s,
               iqr_s, precision, blocks, processes
``samples``    the raw samples: run_id, setup, workload, params, device, phase, process,
               sample, seconds

A series is one (setup, workload, params, device, phase) ordered by started_at; its points are
the runs' medians. A change point splits a series where the mean before and after differ
significantly (Otava's t-test p-value below ``max_pvalue``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness.analysis import summary_frame
from harness.errors import UserError

DEFAULT_DB = Path("results/history.duckdb")
#: the smallest relative change reported, as compare's minimum effect: Otava's t-tests on a
#: quiet series find significant shifts of 1-2% that no one would act on
MIN_MAGNITUDE = 0.03
SERIES = ["setup", "workload", "params", "device", "phase"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started_at TIMESTAMPTZ, git_commit TEXT, git_branch TEXT,
    source TEXT
);
CREATE TABLE IF NOT EXISTS summaries (
    run_id TEXT, started_at TIMESTAMPTZ, git_commit TEXT, git_branch TEXT, setup TEXT,
    workload TEXT, params TEXT, changed_params TEXT, device TEXT, phase TEXT, median_s DOUBLE,
    iqr_s DOUBLE, precision DOUBLE, blocks INTEGER, processes INTEGER
);
CREATE TABLE IF NOT EXISTS samples (
    run_id TEXT, setup TEXT, workload TEXT, params TEXT, device TEXT, phase TEXT,
    process INTEGER, sample INTEGER, seconds DOUBLE
);
"""


def connect(path: Path) -> Any:
    try:
        import duckdb
    except ImportError:
        raise UserError(
            "The history needs DuckDB: make venv installs it (pip install 'harness[history]')."
        ) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        connection = duckdb.connect(str(path))
    except duckdb.Error as error:
        raise UserError(f"Cannot open the history database {path}: {error}.") from None
    connection.execute(SCHEMA)
    return connection


def add(frame: pd.DataFrame, path: Path = DEFAULT_DB) -> list[tuple[str, bool]]:
    """Append every run in ``frame`` (the tidy table); a run already there is left as it is.
    Returns (run_id, added) per run."""
    done: list[tuple[str, bool]] = []
    connection = connect(path)
    try:
        for run_id, run in frame.groupby("run_id", sort=False, dropna=False):
            if run_id is None or pd.isna(run_id):
                raise UserError("Records without a run_id cannot go into the history.")
            known = connection.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone()
            if known:
                done.append((str(run_id), False))
                continue
            _add_run(connection, str(run_id), run)
            done.append((str(run_id), True))
    finally:
        connection.close()
    return done


def unaligned_warning(path: Path = DEFAULT_DB) -> str | None:
    """A warning when the history holds several runs but every series has one point: each run
    got its own setup label (by default it names the host, and hosted CI runners get a new
    host per job), so no series grows and ``changes`` can never find a change point."""
    connection = connect(path)
    try:
        runs, longest, count = connection.execute(
            "SELECT (SELECT count(*) FROM runs), max(points), count(*) FROM ("
            " SELECT count(*) AS points FROM summaries GROUP BY " + ", ".join(SERIES) + ")"
        ).fetchone()
    finally:
        connection.close()
    if runs < 2 or not count or longest > 1:
        return None
    return (
        f"every series in {path} has a single run ({runs} runs, {count} series): their setup "
        "labels differ (by default the label names the host); give harness run a stable "
        "--label so that runs line up in one series."
    )


def _add_run(connection: Any, run_id: str, run: pd.DataFrame) -> None:
    started = pd.to_datetime(run["started_at"].dropna(), utc=True, format="ISO8601")
    started_at = started.min() if not started.empty else pd.Timestamp.now(tz="UTC")
    commit = _first(run["git_commit"])
    branch = _first(run["git_branch"]) if "git_branch" in run else None
    summary = summary_frame(run)
    connection.execute("BEGIN TRANSACTION")
    connection.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?)",
        [run_id, started_at.to_pydatetime(), commit, branch, _first(run["source"])],
    )
    if not summary.empty:
        rows = pd.DataFrame(
            {
                "run_id": run_id,
                "started_at": started_at.to_pydatetime(),
                "git_commit": commit,
                "git_branch": branch,
                "setup": summary["setup"],
                "workload": summary["workload"],
                "params": summary["params"],
                "changed_params": summary["changed_params"],
                "device": summary["device"],
                "phase": summary["phase"],
                "median_s": summary["median_s"],
                "iqr_s": summary["iqr_s"],
                "precision": summary["precision"].astype(float),
                "blocks": summary["count"],
                "processes": summary["processes"],
            }
        )
        connection.register("new_summaries", rows)
        connection.execute("INSERT INTO summaries SELECT * FROM new_summaries")
        connection.unregister("new_summaries")
    ok = run[(run["status"] == "ok") & run["seconds"].notna()]
    samples = pd.DataFrame(
        {
            "run_id": run_id,
            "setup": ok["setup"],
            "workload": ok["workload"],
            "params": ok["params"],
            "device": ok["device"],
            "phase": ok["phase"],
            "process": ok["process"].astype(int),
            "sample": ok["sample"].astype(int),
            "seconds": ok["seconds"],
        }
    )
    connection.register("new_samples", samples)
    connection.execute("INSERT INTO samples SELECT * FROM new_samples")
    connection.unregister("new_samples")
    connection.execute("COMMIT")


def _first(column: pd.Series) -> str | None:
    values = column.dropna()
    return str(values.iloc[0]) if not values.empty else None


def series(
    path: Path = DEFAULT_DB, workload: str | None = None, phase: str | None = None
) -> pd.DataFrame:
    """Every run's summary, ordered by series and time."""
    if not path.exists():
        raise UserError(f"No history at {path}: add runs with harness history add FILE...")
    connection = connect(path)
    try:
        query = "SELECT * FROM summaries WHERE 1=1"
        values: list[Any] = []
        if workload:
            query += " AND workload = ?"
            values.append(workload)
        if phase:
            query += " AND phase = ?"
            values.append(phase)
        query += " ORDER BY setup, workload, params, device, phase, started_at"
        frame: pd.DataFrame = connection.execute(query, values).df()
    finally:
        connection.close()
    return frame


@dataclass(frozen=True)
class Change:
    """One change point of one series."""

    setup: str
    workload: str
    params: str
    changed_params: str | None
    device: str
    phase: str
    index: int  # position of the first run after the change
    runs: int  # runs in the series
    before_commit: str | None
    after_commit: str | None
    after_started_at: Any
    mean_before_s: float
    mean_after_s: float
    pvalue: float

    @property
    def relative(self) -> float:
        return self.mean_after_s / self.mean_before_s - 1 if self.mean_before_s else float("nan")

    @property
    def slowdown(self) -> bool:
        return self.mean_after_s > self.mean_before_s


def otava_analysis() -> Any:
    try:
        return importlib.import_module("otava.analysis")
    except ImportError:
        raise UserError(
            "Change points need Apache Otava: make venv installs it (pip install --no-deps "
            "apache-otava==0.8.0; its own metadata pins numpy 2.2, which the frameworks here "
            "do not allow, and cloud connectors the analysis does not use)."
        ) from None


def change_points(
    medians: list[float], max_pvalue: float = 0.001, min_magnitude: float = MIN_MAGNITUDE
) -> list[tuple[int, float, float, float]]:
    """(index, mean before, mean after, p-value) of each change point in one series, through
    Otava's ``compute_change_points``."""
    if len(medians) < 3:
        return []
    found, _weak = otava_analysis().compute_change_points(
        list(medians), max_pvalue=max_pvalue, min_magnitude=min_magnitude
    )
    return [
        (int(c.index), float(c.stats.mean_1), float(c.stats.mean_2), float(c.stats.pvalue))
        for c in found
    ]


def changes(
    history: pd.DataFrame, max_pvalue: float = 0.001, min_magnitude: float = MIN_MAGNITUDE
) -> list[Change]:
    found: list[Change] = []
    for key, group in history.groupby(SERIES, sort=False, dropna=False):
        group = group.sort_values("started_at").reset_index(drop=True)
        for index, before, after, pvalue in change_points(
            group["median_s"].tolist(), max_pvalue, min_magnitude
        ):
            found.append(
                Change(
                    setup=key[0],
                    workload=key[1],
                    params=key[2],
                    changed_params=group["changed_params"].iloc[0],
                    device=key[3],
                    phase=key[4],
                    index=index,
                    runs=len(group),
                    before_commit=group["git_commit"].iloc[index - 1],
                    after_commit=group["git_commit"].iloc[index],
                    after_started_at=group["started_at"].iloc[index],
                    mean_before_s=before,
                    mean_after_s=after,
                    pvalue=pvalue,
                )
            )
    return found


def latest_slowdowns(found: Iterable[Change]) -> list[Change]:
    """Series whose latest run sits after a slowdown not undone since: their last change point
    is a slowdown."""
    last: dict[tuple, Change] = {}
    for change in found:
        key = (change.setup, change.workload, change.params, change.device, change.phase)
        if key not in last or change.index > last[key].index:
            last[key] = change
    return [c for c in last.values() if c.slowdown]
