"""Ctrl-C held back while a container is being created (``signals_deferred``), whichever thread
the kernel hands the signal to. A signal sent to the whole process goes to any thread that does
not block it (here the progress bar's refresh thread); each test below sends it to one thread
on purpose, so nothing depends on the kernel's choice or on timing."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from harness.machine.docker_client import signals_deferred


class Stop(Exception):
    """What the runner's SIGTERM handler raises (harness.runner.RunInterrupted stands in)."""


@pytest.fixture
def other_thread():
    """A second thread, idle, not blocking any signal: where a process-directed one may go."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    yield thread
    stop.set()
    thread.join()


@pytest.fixture
def sigterm_raises():
    def handler(signum, frame):
        raise Stop(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, handler)
    yield handler
    signal.signal(signal.SIGTERM, previous)


def wait_for(deferred, seconds: float = 60.0) -> None:
    """Until the deferral has taken note of the signal (the handler runs in this thread)."""
    deadline = time.monotonic() + seconds
    while not deferred.received:
        if time.monotonic() > deadline:
            pytest.fail("the signal was never handled")
        time.sleep(0.001)


def send(how: str, thread: threading.Thread, signum: int) -> None:
    if how == "this thread":
        signal.raise_signal(signum)
    else:
        signal.pthread_kill(thread.ident, signum)


@pytest.mark.parametrize("how", ["this thread", "another thread"])
def test_a_ctrl_c_inside_the_region_arrives_at_its_end(how, other_thread):
    reached_the_end = False
    with pytest.raises(KeyboardInterrupt), signals_deferred() as deferred:
        send(how, other_thread, signal.SIGINT)
        wait_for(deferred)  # a KeyboardInterrupt here would land inside the region
        reached_the_end = True
    assert reached_the_end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


@pytest.mark.parametrize("how", ["this thread", "another thread"])
def test_a_sigterm_inside_the_region_reaches_the_runners_handler_at_its_end(
    how, other_thread, sigterm_raises
):
    reached_the_end = False
    with pytest.raises(Stop, match="SIGTERM"), signals_deferred() as deferred:
        send(how, other_thread, signal.SIGTERM)
        wait_for(deferred)
        reached_the_end = True
    assert reached_the_end and signal.getsignal(signal.SIGTERM) is sigterm_raises


def test_the_first_signal_noted_is_raised_first_and_each_is_noted_once(
    other_thread, sigterm_raises
):
    # SIGTERM came first: its handler raises, ending the run
    with pytest.raises(Stop), signals_deferred() as deferred:
        signal.pthread_kill(other_thread.ident, signal.SIGTERM)
        wait_for(deferred)
        signal.raise_signal(signal.SIGTERM)  # again: noted once
        signal.raise_signal(signal.SIGINT)
    assert deferred.received == [signal.SIGTERM, signal.SIGINT]


def test_nothing_is_raised_when_no_signal_came():
    with signals_deferred() as deferred:
        pass
    assert deferred.received == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
