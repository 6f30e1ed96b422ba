"""The Slurm launcher's options: its config dataclass, checked once (every value that reaches
the batch script stays one word or one line), and what sbatch's refusal says."""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.errors import UserError
from harness.images import resolve_image

SHARING = ("exclusive", "shared")


def _names(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise ValueError(text)
    return names


#: an sbatch option's name: letters, digits, hyphens (submitit turns underscores into hyphens)
SBATCH_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
#: sbatch options the launcher writes itself: given again with --sbatch they would break the
#: array it gathers, or fight the option named here
OWN_SBATCH_KEYS = {
    "array": "--array-parallelism",
    "output": "--job-dir",
    "error": "--job-dir",
    "open-mode": None,
    "signal": None,
    "partition": "--partition",
    "account": "--account",
    "qos": "--qos",
    "time": "--time-limit",
    "mem": "--memory",
    "cpus-per-task": "--cpus-per-task",
    "gres": "--gres",
    "constraint": "--constraint",
}


def _sbatch_line(text: str) -> str:
    """``--key`` or ``--key=value``: one line of the batch script, never two."""
    if not text.startswith("--") or len(text) < 3:
        raise ValueError(text)
    key, _, value = text[2:].partition("=")
    if not SBATCH_KEY.fullmatch(key) or _has_control(value):
        raise ValueError(text)
    return text


def _has_control(text: str) -> bool:
    """A newline, carriage return, tab or other control character: each could end a line of the
    batch script and start another."""
    return any(ord(char) < 32 or ord(char) == 127 for char in text)


def _script_word(flag: str, value: str | None, spaces: bool = False) -> None:
    """Refuse a value that would not stay one word (``spaces``: one line) of the batch script."""
    if value is None:
        return
    if _has_control(value) or (not spaces and (not value or any(c.isspace() for c in value))):
        what = "a control character" if _has_control(value) else "whitespace"
        raise UserError(
            f"{flag} {value!r} has {what if value else 'no value'}: it is written into the "
            f"sbatch script, so give it {'on one line' if spaces else 'as one word'}."
        )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


@dataclass(frozen=True)
class SlurmConfig:
    #: one array per partition (a fleet run); empty: the cluster's default partition
    partition: tuple[str, ...] = ()
    account: str | None = None
    qos: str | None = None
    #: minutes per element; None: the tasks' timeout plus five minutes
    time_limit: int | None = None
    #: bytes per element (sbatch --mem)
    memory: int | None = None
    cpus_per_task: int | None = None
    gres: str | None = None
    constraint: str | None = None
    #: elements running at once (sbatch --array=...%N)
    array_parallelism: int | None = None
    #: extra sbatch options, each "--key=value" or "--flag"
    sbatch: tuple[str, ...] = ()
    #: "exclusive" (the default: an element has its node to itself, as a benchmark should) or
    #: "shared" (elements may share nodes; the record says so)
    node_sharing: str = "exclusive"
    #: None (the worker runs on the node's Python) or "docker" (in --image on the node)
    container: str | None = None
    image: str | None = None
    #: a folder every node sees (elements' records and logs); None: .harness/slurm/<id>
    job_dir: str | None = None
    #: seconds an element may stay pending before the run gives up; None: no bound (reasons
    #: that never clear, like PartitionConfig, end the run at once either way)
    max_pending: int | None = None

    def __post_init__(self) -> None:
        if self.node_sharing not in SHARING:
            raise UserError(
                f"--node-sharing must be exclusive or shared, got {self.node_sharing!r}."
            )
        if self.container not in (None, "docker"):
            raise UserError(f"--container takes docker, got {self.container!r}.")
        if self.image and self.container is None:
            raise UserError("--image with the Slurm launcher needs --container docker.")
        if self.memory is not None and self.memory <= 0:
            raise UserError(f"--memory must be a positive size, got {self.memory}.")
        for partition in self.partition:
            _script_word("--partition", partition)
        for flag in ("account", "qos", "gres", "constraint"):
            _script_word(f"--{flag}", getattr(self, flag))
        if self.image is not None:
            resolve_image(self.image)
        _script_word("--job-dir", self.job_dir, spaces=True)
        for line in self.sbatch:
            try:
                _sbatch_line(line)
            except ValueError:
                raise UserError(
                    f"--sbatch cannot take {line!r}: give one sbatch option as --key or "
                    "--key=value, its key letters, digits and hyphens, on one line."
                ) from None
            key = line[2:].partition("=")[0].replace("_", "-")
            if key in OWN_SBATCH_KEYS:
                instead = OWN_SBATCH_KEYS[key]
                raise UserError(
                    f"--sbatch cannot set --{key}: the Slurm launcher writes it itself"
                    + (f"; use {instead}." if instead else ".")
                )


#: words of an sbatch error -> the harness option that asked for it
SBATCH_OPTIONS = (
    ("memory", "--memory"),
    ("mem-per", "--memory"),
    ("cpus-per-task", "--cpus-per-task"),
    ("cpu count", "--cpus-per-task"),
    ("time limit", "--time-limit"),
    ("partition", "--partition"),
    ("gres", "--gres"),
    ("gpu", "--gres"),
    ("feature", "--constraint"),
    ("constraint", "--constraint"),
    ("account", "--account"),
    ("qos", "--qos"),
)


def sbatch_reason(text: str) -> str:
    """The line of sbatch's output that says what was wrong, with the option to change: an
    error naming an option (``--cpus-per-task``) or a resource (``Memory specification can not
    be satisfied``) before sbatch's generic last line, else that line, else the last line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line.split("error:", 1)[-1].strip() for line in lines if "error:" in line]
    naming = [line for line in errors if "--" in line or "option" in line.lower()]
    resource = [line for line in errors
                if any(word in line.lower() for word, _ in SBATCH_OPTIONS)]  # fmt: skip
    chosen = (naming or resource or errors[-1:] or lines[-1:] or ["no reason given"])[0]
    option = next((name for word, name in SBATCH_OPTIONS if word in chosen.lower()), None)
    if option and option not in chosen:
        chosen = f"{chosen.rstrip('.')} (change {option})"
    return chosen
