"""A worker dies with the process that launched it, and never outlives its own deadline.

A worker runs in a session of its own (so a timeout can kill its whole process group), which
also means nothing kills it when ``harness run`` itself is killed with SIGKILL. Three watches,
each a daemon thread, end the worker's whole process group instead:

* the parent: the launcher's PID is passed in ``HARNESS_PARENT_PID``; when the worker's parent
  is no longer that process (it died and the worker was re-parented), the worker ends;
* standard input (containers, ``HARNESS_WATCH_STDIN=1``): the Docker launcher keeps the
  container's stdin attached; when the launcher dies the engine closes it (``stdin_once``), and
  end of file ends the worker;
* a deadline: ``HARNESS_DEADLINE_S`` seconds after start (the task's timeout plus a grace), as a
  last resort should both of the above be unavailable.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

PARENT_VARIABLE = "HARNESS_PARENT_PID"
STDIN_VARIABLE = "HARNESS_WATCH_STDIN"
DEADLINE_VARIABLE = "HARNESS_DEADLINE_S"
POLL_SECONDS = 0.1
#: Seconds past the task's timeout before a worker ends itself (the launcher acts first).
DEADLINE_GRACE_S = 30.0


def end_process_group(reason: str) -> None:
    """Kill every process of this worker's group (its DataLoader workers too), then itself."""
    print(f"harness worker: {reason}; ending", file=sys.stderr, flush=True)
    try:
        if os.getpgrp() == os.getpid():  # the group is ours alone (a session leader)
            os.killpg(os.getpgrp(), signal.SIGKILL)
    finally:
        # PID 1 in a container ignores signals sent from inside its namespace: exit directly.
        os._exit(137)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    end_process_group(f"the launcher (pid {parent}) is gone")


def _watch_stdin() -> None:
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    end_process_group("the launcher closed the container's input")


def _watch_deadline(seconds: float) -> None:
    time.sleep(seconds)
    end_process_group(f"the worker ran past its deadline of {seconds:g} s")


def start(environ: dict[str, str] | None = None) -> list[str]:
    """Start the watches the environment asks for; return their names (for tests)."""
    env = os.environ if environ is None else environ
    started: list[str] = []
    parent_text = env.get(PARENT_VARIABLE)
    if parent_text and parent_text.isdigit():
        parent = int(parent_text)
        if os.getppid() != parent:  # the launcher died before this line ran
            end_process_group(f"the launcher (pid {parent}) is gone")
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
        started.append("parent")
    if env.get(STDIN_VARIABLE) == "1":
        threading.Thread(target=_watch_stdin, daemon=True).start()
        started.append("stdin")
    deadline = env.get(DEADLINE_VARIABLE)
    if deadline:
        threading.Thread(target=_watch_deadline, args=(float(deadline),), daemon=True).start()
        started.append("deadline")
    return started


def deadline_for(timeout: float) -> str:
    return f"{timeout + DEADLINE_GRACE_S:g}"
