"""The `make run` supervisor (mindpost/core/management/commands/runstack.py): a child that exits is
restarted with exponential backoff, and stopping ends every child.

Children are tiny real processes; the supervisor's clock is passed in, so the backoff is checked
without waiting for it (the tests wait only for a child to exit, never for a delay).
"""

from __future__ import annotations

import sys
import threading
import time

import pytest

from mindpost.core.management.commands.runstack import RestartPolicy, Supervisor

CRASH = [sys.executable, "-c", "import sys; sys.exit(1)"]
SLEEP = [sys.executable, "-c", "import time; time.sleep(120)"]


@pytest.fixture(autouse=True)
def _clean_state() -> None:
    """These tests need no database: replaces the suite's autouse fixture."""


def test_the_policy_doubles_up_to_the_maximum_and_resets_after_a_stable_run() -> None:
    policy = RestartPolicy(initial=1, maximum=30, stable_after=60)
    delays: list[float] = []
    previous: float | None = None
    for _ in range(7):
        previous = policy.delay(previous=previous, uptime=0.5)
        delays.append(previous)
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert policy.delay(previous=30, uptime=59) == 30
    assert policy.delay(previous=30, uptime=60) == 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wait_exited(supervisor: Supervisor, name: str) -> None:
    process = supervisor.children[name].process
    assert process is not None
    process.wait(timeout=30)


def test_a_crashing_child_is_restarted_with_growing_delays_and_logged() -> None:
    clock = Clock()
    lines: list[str] = []
    supervisor = Supervisor(
        commands={"web": SLEEP, "worker": CRASH},
        log=lines.append,
        policy=RestartPolicy(initial=1, maximum=4, stable_after=60),
        clock=clock,
    )
    supervisor.start()
    try:
        web = supervisor.children["web"].process
        worker = supervisor.children["worker"]
        pids = []
        for expected_delay in [1, 2, 4, 4]:
            assert worker.process is not None
            pids.append(worker.process.pid)
            wait_exited(supervisor, "worker")
            clock.now += 0.5
            supervisor.poll()
            assert worker.process is None
            assert lines[-1] == f"worker exited with code 1 after 0s; restarting in {expected_delay:g}s."
            clock.now += expected_delay - 0.01
            supervisor.poll()
            assert worker.process is None, "restarted before its delay was up"
            clock.now += 0.01
            supervisor.poll()
            assert worker.process is not None
            assert lines[-1].startswith("worker restarted")
        assert len(set(pids)) == len(pids)  # a new process each time
        assert worker.restarts == 4
        # The other child kept running the whole time.
        assert supervisor.children["web"].process is web
        assert web is not None
        assert web.poll() is None
    finally:
        supervisor.stop(timeout=10)


def test_the_delay_resets_after_the_child_stayed_up() -> None:
    clock = Clock()
    lines: list[str] = []
    supervisor = Supervisor(
        commands={"llm": CRASH},
        log=lines.append,
        policy=RestartPolicy(initial=1, maximum=30, stable_after=60),
        clock=clock,
    )
    supervisor.start()
    try:
        child = supervisor.children["llm"]
        for _ in range(3):  # delays 1, 2, 4
            wait_exited(supervisor, "llm")
            supervisor.poll()
            clock.now += 30
            supervisor.poll()
        assert child.last_delay == 4
        wait_exited(supervisor, "llm")
        clock.now += 61  # this run "stayed up" past stable_after before exiting
        supervisor.poll()
        assert child.last_delay == 1
        assert "after 61s; restarting in 1s." in lines[-1]
    finally:
        supervisor.stop(timeout=10)


def test_stop_ends_every_child_and_drops_pending_restarts() -> None:
    clock = Clock()
    supervisor = Supervisor(commands={"web": SLEEP, "worker": CRASH}, log=lambda line: None, clock=clock)
    supervisor.start()
    wait_exited(supervisor, "worker")
    supervisor.poll()  # the worker's restart is now pending
    web = supervisor.children["web"].process
    assert web is not None
    supervisor.stop(timeout=10)
    assert web.poll() is not None
    clock.now += 3600
    supervisor.poll()
    assert supervisor.children["worker"].process is None  # no restart after stop


def test_run_returns_when_asked_to_stop() -> None:
    """What Ctrl-C / SIGTERM do: the handler sets the flag, run() returns, stop() ends the children."""
    supervisor = Supervisor(commands={"web": SLEEP}, log=lambda line: None)
    supervisor.start()
    stop = threading.Event()
    runner = threading.Thread(target=supervisor.run, args=(stop.is_set,), kwargs={"interval": 0.01})
    runner.start()
    try:
        time.sleep(0.05)
        stop.set()
        runner.join(timeout=10)
        assert not runner.is_alive()
    finally:
        supervisor.stop(timeout=10)
    process = supervisor.children["web"].process
    assert process is not None
    assert process.poll() is not None
