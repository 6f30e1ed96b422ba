"""Talking to the Docker engine: a probe that leaves nothing open, signals held back around
container creation, a kill that tolerates a container already gone."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections.abc import Iterator
from typing import Any

from harness.errors import INTERRUPT_SIGNALS, UserError


def docker_client() -> Any:
    try:
        import docker
    except ImportError:
        raise UserError(
            "The Docker launcher needs the Docker SDK: pip install 'trainstep-harness[docker]'."
        ) from None
    unreachable = _unix_socket_unreachable(os.environ.get("DOCKER_HOST", DEFAULT_SOCKET))
    if unreachable:
        raise UserError(
            f"Cannot reach the Docker daemon ({unreachable}); start it "
            "(sudo systemctl start docker, or dockerd &) or point DOCKER_HOST at one."
        )
    client = None
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except Exception as error:  # DockerException, requests' ConnectionError, FileNotFoundError
        if client is not None:
            # the failed probe holds a socket; left open it is an unraisable ResourceWarning
            client.close()
        raise UserError(
            f"Cannot reach the Docker daemon ({_first_line(error)}); start it "
            "(sudo systemctl start docker, or dockerd &) or point DOCKER_HOST at one."
        ) from None
    return client


DEFAULT_SOCKET = "unix:///var/run/docker.sock"


def _unix_socket_unreachable(host: str) -> str | None:
    """Why a ``unix://`` engine socket cannot be connected to, or None (other schemes: None).

    Probed with a socket we close ourselves: the Docker SDK's own failed connection to a
    missing socket leaves its socket open (an unraisable ResourceWarning at exit).
    """
    if not host.startswith("unix://"):
        return None
    path = host.removeprefix("unix://")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(5)
        try:
            probe.connect(path)
        except OSError as error:
            return f"{path}: {error.strerror or error}"
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


class DeferredSignals:
    """The SIGINT/SIGTERM/SIGHUP that arrived while deferred, in order (each signal once)."""

    def __init__(self) -> None:
        self.received: list[int] = []

    def record(self, signum: int, frame: Any) -> None:
        if signum not in self.received:
            self.received.append(signum)


@contextlib.contextmanager
def signals_deferred() -> Iterator[DeferredSignals]:
    """SIGINT/SIGTERM/SIGHUP held back for the duration and delivered at its end (once we hold the
    handle of what was created), so a Ctrl-C cannot land between the engine creating a
    container and this process knowing its ID.

    Python runs signal handlers in the main thread whichever thread the kernel gave the signal
    to, so the deferral swaps the Python handlers for one that only takes note, then restores
    them and raises what was noted. (Blocking the signals with ``pthread_sigmask`` blocks them
    in the calling thread only: a Ctrl-C, sent to the whole process, then goes to another
    thread, such as the progress bar's, and its handler runs inside the region anyway.) Off the
    main thread nothing can be deferred: handlers cannot be swapped there. Signals noted are
    raised in the order they came; the first whose handler raises ends the region.
    """
    deferred = DeferredSignals()
    if threading.current_thread() is not threading.main_thread():
        yield deferred
        return
    previous = {
        sig: handler
        for sig in INTERRUPT_SIGNALS
        if (handler := signal.getsignal(sig)) is not None  # None: set outside Python, kept
    }
    for sig in previous:
        signal.signal(sig, deferred.record)
    try:
        yield deferred
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in deferred.received:
            signal.raise_signal(signum)  # to this thread, to the handler just restored


def stop_after_timeout(container: Any) -> None:
    """Kill a container whose wait timed out. It may have exited in between: the engine then
    answers 409 (not running), which is no error here."""
    import docker

    try:
        container.kill()
    except docker.errors.APIError as error:
        if getattr(error, "status_code", None) not in (404, 409):
            raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
