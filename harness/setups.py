"""What a setup is: the label a record is grouped by in reports, and the facts two sides of a
comparison must share before a slowdown between them means the code got slower."""

from __future__ import annotations

import pandas as pd

from harness.record import Record

SETUP_PACKAGES = (
    ("torch", "torch"),
    ("tensorflow", "tf"),
    ("tensorflow-cpu", "tf"),
    ("keras", "keras"),
    ("jax", "jax"),
    ("cupy", "cupy"),
    ("numpy", "numpy"),
)


def setup_label(record: Record) -> str:
    """The setup a record belongs to: its --label, else host · hardware · launcher[:image] ·
    framework versions (those inside the container when it ran in one)."""
    if record.label:
        return str(record.label)
    env = record.environment
    hardware = env.get("gpu_name") or env.get("cpu_model") or "?"
    if not env.get("gpu_name") and env.get("usable_cores"):
        # the cores the work could use: one machine under taskset or a quota is another setup
        hardware += f" ({env['usable_cores']} cores)"
    place = env.get("launcher", "local")
    if env.get("slurm_partition"):  # a fleet run: one setup per partition
        place += f"[{env['slurm_partition']}]"
    if env.get("image"):
        place += f":{env['image']}"
    packages = env.get("container_packages") or env.get("packages") or {}
    versions: list[str] = []
    for package, short in SETUP_PACKAGES:
        version = packages.get(package)
        if version and not any(v.startswith(short + " ") for v in versions):
            versions.append(f"{short} {version.split('+')[0]}")
    parts = [str(env.get("host", "?")), hardware, place, " ".join(versions)]
    return " · ".join(part for part in parts if part)


def framework_version(record: Record) -> str | None:
    if record.runtime.get("framework_version"):
        return str(record.runtime["framework_version"])
    packages = record.environment.get("packages") or {}
    framework = record.framework or ""
    return packages.get(framework) or packages.get(f"{framework}-cpu")


#: (frame column, name): facts that change a measurement; two sides that differ in any of them
#: ran on different setups, and a slowdown between them may be the setup's
SETUP_FACTS = (
    ("cpu_model", "CPU"),
    ("gpu_name", "GPU"),
    ("usable_cores", "usable cores"),
    ("launcher", "launcher"),
    ("image", "image"),
    ("cpus_limit", "CPU quota"),
    ("memory_limit_bytes", "memory limit"),
    ("thread_count", "threads"),
    ("framework_version", "framework version"),
    ("python", "Python"),
)
#: named in a comparison's notes, but no reason to refuse it: hosted CI runs on a new host
#: every job
NOTED_FACTS = (("host", "host"),)
#: facts whose absence means something ("none": no image, no limit, no GPU), not "unknown"
ABSENT_MEANS_NONE = frozenset({"gpu_name", "image", "cpus_limit", "memory_limit_bytes"})


def setup_differences(baseline: pd.DataFrame, candidate: pd.DataFrame,
                      facts: tuple[tuple[str, str], ...] = SETUP_FACTS) -> list[str]:  # fmt: skip
    """ "name: baseline values → candidate values" for each fact the two sides do not share (a
    fact missing on both sides, or on one, is not a difference)."""
    found = []
    for column, name in facts:
        if column not in baseline or column not in candidate:
            continue
        if column == "memory_limit_bytes":
            before = sorted({_size(v) for v in baseline[column].unique()})
            after = sorted({_size(v) for v in candidate[column].unique()})
        elif column in ABSENT_MEANS_NONE:
            before = sorted({str(v) for v in baseline[column].fillna("none").unique()})
            after = sorted({str(v) for v in candidate[column].fillna("none").unique()})
        else:
            before = sorted({str(v) for v in baseline[column].dropna().unique()})
            after = sorted({str(v) for v in candidate[column].dropna().unique()})
        if before and after and before != after:
            found.append(f"{name}: {', '.join(before)} → {', '.join(after)}")
    return found


def _size(value: object) -> str:
    """A memory limit as people write it (``1.0 GiB``), ``none`` when there is none."""
    if value is None or (isinstance(value, float) and value != value):
        return "none"
    return f"{float(value) / 2**30:.1f} GiB"  # type: ignore[arg-type]
