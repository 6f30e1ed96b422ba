"""The results history: every run appended to an embedded DuckDB database, and change points
found in each series with Apache Otava (E-Divisive means, the successor of Hunter).

Tables (one database file, ``results/history.duckdb`` by default):

``runs``       run_id, started_at (the run's first record), git_commit, git_branch, source
``summaries``  one row per run × setup × workload × params × device × phase: median_s,
               iqr_s, precision, blocks, processes; the series it belongs to; the run's
               volatile facts (host, framework version) and its machine health (noisy-machine
               flag and reasons)
``samples``    the raw samples: run_id, setup, workload, params, device, phase, process,
               sample, seconds

A series is one (series, workload, params, device, phase) ordered by started_at; its points are
the runs' medians. ``series`` is a stable identity: the run's ``--label``, else its hardware
(GPU, else CPU model) and launcher[:image]. The host name and the framework versions are not part
of it (hosted CI gets a new host every job; an upgrade that slows a workload must show as a change
in its series, not start a new one): they are kept as columns, and a change point says which of
them changed with it, as asv marks commits. A change point splits a series where the mean before
and after differ significantly (Otava's t-test p-value below ``max_pvalue``); one supported by a
single latest run is ``unconfirmed`` until a second run stands with it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness.analysis.summary import summary_frame
from harness.errors import UserError

DEFAULT_DB = Path("results/history.duckdb")
#: the smallest relative change reported, as compare's minimum effect: Otava's t-tests on a
#: quiet series find significant shifts of 1-2% that no one would act on
MIN_MAGNITUDE = 0.03
SERIES = ["series", "workload", "params", "device", "phase"]
#: runs a series needs before a change point can be looked for
MIN_RUNS = 3
#: how long ``connect`` waits for another process's lock on the database (seconds)
LOCK_WAIT_S = 10.0

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
ALTER TABLE summaries ADD COLUMN IF NOT EXISTS series TEXT;
ALTER TABLE summaries ADD COLUMN IF NOT EXISTS host TEXT;
ALTER TABLE summaries ADD COLUMN IF NOT EXISTS versions TEXT;
ALTER TABLE summaries ADD COLUMN IF NOT EXISTS noisy BOOLEAN;
ALTER TABLE summaries ADD COLUMN IF NOT EXISTS noisy_reasons TEXT;
ALTER TABLE summaries ADD COLUMN IF NOT EXISTS facts TEXT;
"""


def connect(path: Path, lock_wait_s: float = LOCK_WAIT_S) -> Any:
    """An open DuckDB connection with the schema in place. Another process holding the file's
    lock is waited for up to ``lock_wait_s`` seconds; then UserError."""
    import time

    try:
        import duckdb
    except ImportError:
        raise UserError(
            "The history needs DuckDB: make venv installs it "
            "(pip install 'trainstep-harness[history]')."
        ) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline, pause = time.monotonic() + lock_wait_s, 0.1
    while True:
        try:
            connection = duckdb.connect(str(path))
            break
        except duckdb.Error as error:
            locked = "lock" in str(error).lower()
            if not locked or time.monotonic() + pause > deadline:
                first = str(error).strip().splitlines()[0] if str(error).strip() else error
                raise UserError(f"Cannot open the history database {path}: {first}.") from None
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
    connection.execute(SCHEMA)
    return connection


def series_identity(frame: pd.DataFrame) -> pd.Series:
    """Each row's series: its label, else hardware (GPU, else CPU) · launcher[:image]."""
    hardware = frame["gpu_name"].fillna(frame["cpu_model"]).fillna("?").astype(str)
    launcher = frame["launcher"].fillna("local").astype(str)
    image = frame["image"].fillna("").astype(str)
    place = launcher.where(image == "", launcher + ":" + image)
    identity = hardware + " · " + place
    label = frame["label"]
    return label.where(label.notna() & (label.astype(str) != ""), identity).astype(str)


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
    facts = run.assign(series=series_identity(run))
    by_case = facts.drop_duplicates(["setup", "workload"]).set_index(["setup", "workload"])
    health = (
        facts[facts["noisy_reasons"].fillna("") != ""]
        .groupby(["setup", "workload", "params", "device"], dropna=False)["noisy_reasons"]
        .agg(lambda reasons: "; ".join(dict.fromkeys(reasons)))
    )
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
        cases = list(zip(summary["setup"], summary["workload"], strict=True))
        rows["series"] = [by_case.loc[case, "series"] for case in cases]
        rows["host"] = [by_case.loc[case, "host"] for case in cases]
        rows["versions"] = [by_case.loc[case, "framework_version"] for case in cases]
        rows["facts"] = [_facts_of(by_case.loc[case]) for case in cases]
        rows["noisy"] = summary["noisy_machine"].astype(bool)
        keys = zip(summary["setup"], summary["workload"], summary["params"], summary["device"],
                   strict=True)  # fmt: skip
        rows["noisy_reasons"] = [health.get(key) for key in keys]
        connection.register("new_summaries", rows)
        connection.execute("INSERT INTO summaries BY NAME SELECT * FROM new_summaries")
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
        query = "SELECT * REPLACE (coalesce(series, setup) AS series) FROM summaries WHERE 1=1"
        values: list[Any] = []
        if workload:
            query += " AND workload = ?"
            values.append(workload)
        if phase:
            query += " AND phase = ?"
            values.append(phase)
        query += " ORDER BY series, workload, params, device, phase, started_at"
        frame: pd.DataFrame = connection.execute(query, values).df()
    finally:
        connection.close()
    return frame


@dataclass(frozen=True)
class Change:
    """One change point of one series."""

    series: str
    setup: str  # the setup label of the first run after the change
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
    #: volatile facts that differ between the runs either side: "host a → b", "2.12 → 2.13"
    changed_facts: tuple[str, ...] = ()
    #: machine-health reasons of the runs after the change that were flagged noisy-machine
    noisy_after: tuple[str, ...] = ()

    @property
    def confirmed(self) -> bool:
        """A change needs a second run after it to stand: one supported by the latest run
        alone may be that run's noise."""
        return self.runs - self.index >= 2

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
            after_rows = group.iloc[index:]
            noisy = after_rows[after_rows["noisy"].fillna(False).astype(bool)]
            found.append(
                Change(
                    series=key[0],
                    setup=group["setup"].iloc[index],
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
                    changed_facts=_changed_facts(group.iloc[index - 1], group.iloc[index]),
                    noisy_after=tuple(
                        f"run {i + 1}: {noisy.loc[i, 'noisy_reasons'] or 'noisy-machine'}"
                        for i in noisy.index
                    ),
                )
            )
    return found


def _facts_of(row: pd.Series) -> str:
    """The setup facts of a run's case (harness.setups.SETUP_FACTS but the framework
    version, kept as ``versions``), as JSON: what a change point compares either side."""
    import json

    from harness.setups import SETUP_FACTS

    facts = {name: row.get(column) for column, name in SETUP_FACTS
             if column != "framework_version"}  # fmt: skip
    return json.dumps({k: (None if pd.isna(v) else str(v)) for k, v in facts.items()})


def _changed_facts(before: pd.Series, after: pd.Series) -> tuple[str, ...]:
    """The volatile facts and setup facts that differ between two runs of a series."""
    import json

    facts = []
    for column, name in (("host", "host"), ("versions", "framework")):
        old, new = before.get(column), after.get(column)
        if pd.notna(old) and pd.notna(new) and old != new:
            facts.append(f"{name} {old} → {new}")
    olds, news = (json.loads(side.get("facts") or "{}") if isinstance(side.get("facts"), str)
                  else {} for side in (before, after))  # fmt: skip
    for name in olds.keys() & news.keys():
        if olds[name] != news[name]:
            facts.append(f"{name} {olds[name] or 'none'} → {news[name] or 'none'}")
    return tuple(facts)


def short_series(history: pd.DataFrame) -> tuple[int, int]:
    """(series with fewer than MIN_RUNS runs, all series): the first are too short to judge."""
    if history.empty:
        return 0, 0
    runs = history.groupby(SERIES, sort=False, dropna=False)["run_id"].nunique()
    return int((runs < MIN_RUNS).sum()), len(runs)


def latest_slowdowns(found: Iterable[Change]) -> list[Change]:
    """Series whose latest run sits after a slowdown not undone since: their last change point
    is a slowdown (confirmed or not: see ``Change.confirmed``)."""
    last: dict[tuple, Change] = {}
    for change in found:
        key = (change.series, change.workload, change.params, change.device, change.phase)
        if key not in last or change.index > last[key].index:
            last[key] = change
    return [c for c in last.values() if c.slowdown]
