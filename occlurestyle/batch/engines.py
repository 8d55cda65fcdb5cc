"""Where the batch's tasks run: one after another in this process (`local`), or as Ray tasks with
resource requests (`ray`): an in-process Ray on this machine by default (nothing to start), or an
existing cluster by its address. Both take a task when it may start and hand back each one as it ends;
the order of the batch is the scheduler's (`batch/run.py`), not theirs."""

from __future__ import annotations

import os
import re
import socket
from collections import deque
from dataclasses import dataclass
from typing import Callable

from ..errors import InputError

# up to this many cores, tasks side by side on Ray were slower than one after another on every core
# (4 small captures on 2 cores: 461 s against 426 s, benchmarks/batch.py)
LOCAL_CORES = 2


@dataclass
class Task:
    key: str  # unique in the batch: "CAPTURE/shared/train", "CAPTURE/STYLE/render"
    run: str  # the run folder it works in, relative to the batch: "CAPTURE/shared", "CAPTURE/STYLE"
    stage: str  # a pipeline stage, "branch" or "eval"
    function: Callable[..., dict]  # called as function(*args, cores=N) in whichever process runs it
    args: tuple = ()
    after: str | None = None  # the task that must have succeeded first
    cores: int = 1  # CPU cores it asks Ray for (and the threads it then uses)
    gpus: float = 0.0


class LocalEngine:
    """Each task in this process, in the order given, with every core."""

    name = "local"

    def __init__(self):
        self.cores = os.cpu_count() or 1
        self.gpus = 0
        self._queue: deque[Task] = deque()

    def submit(self, task: Task) -> None:
        self._queue.append(task)

    def running(self) -> list[Task]:
        return list(self._queue)

    def next_done(self) -> tuple[Task, dict | None, BaseException | None]:
        task = self._queue.popleft()
        try:
            return task, task.function(*task.args, cores=self.cores), None
        except Exception as error:  # noqa: BLE001 - a capture's failure is reported, the others go on
            return task, None, error

    def cancel(self) -> None:
        """The task under way has stopped with the KeyboardInterrupt that reached it; the rest never start."""
        self._queue.clear()

    def close(self) -> None:
        pass


def _call(function: Callable[..., dict], args: tuple, cores: int) -> dict:
    return function(*args, cores=cores)


class RayEngine:
    """Each task a Ray task asking for its cores (and a GPU for training where the cluster has one)."""

    name = "ray"

    def __init__(self, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise InputError("the ray engine needs Ray: pip install 'occlurestyle[batch]'") from None
        self._ray = ray
        if address is not None:
            _check_reachable(address)
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        resources = ray.cluster_resources()
        self.cores = int(resources.get("CPU", 1))
        self.gpus = int(resources.get("GPU", 0))
        self._remote = ray.remote(_call)
        self._running: dict = {}

    def submit(self, task: Task) -> None:
        ref = self._remote.options(num_cpus=task.cores, num_gpus=task.gpus, max_retries=0,
                                   name=task.key).remote(task.function, task.args, task.cores)
        self._running[ref] = task

    def running(self) -> list[Task]:
        return list(self._running.values())

    def next_done(self) -> tuple[Task, dict | None, BaseException | None]:
        ray = self._ray
        ready = []
        while not ready:  # short waits: a Ctrl-C reaches the driver between them, not only when a task ends
            ready, _ = ray.wait(list(self._running), num_returns=1, timeout=0.5)
        task = self._running.pop(ready[0])
        try:
            return task, ray.get(ready[0]), None
        except ray.exceptions.RayTaskError as error:
            return task, None, error.cause if isinstance(error.cause, BaseException) else error
        except ray.exceptions.RayError as error:  # a worker that died, an object lost with its node
            return task, None, error

    def cancel(self) -> None:
        """Stop every running task by shutting Ray down (its workers die where they are; ray.cancel races
        with tasks that are finishing and can abort the driver)."""
        self._running.clear()
        self._ray.shutdown()

    def close(self) -> None:
        self._ray.shutdown()


def _check_reachable(address: str) -> None:
    """Fail at once on an address nothing listens at (Ray itself retries for minutes)."""
    found = re.fullmatch(r"(?:ray://)?([^:/]+):(\d+)", address)
    if found is None:
        return  # "auto" and the like: Ray's own lookup
    try:
        socket.create_connection((found.group(1), int(found.group(2))), timeout=5).close()
    except OSError as error:
        raise InputError(f"no Ray cluster answers at {address} ({error.strerror or error}); start one with "
                         "`ray start --head`, or leave out --address to run on this machine") from None


def engine(name: str = "auto", address: str | None = None, say: Callable[[str], None] = print):
    """`auto`: Ray with an address, or when it is installed and this machine has more than
    LOCAL_CORES cores; else one task after another (measured faster on 2 cores: docs/batch.md)."""
    if name not in ("auto", "local", "ray"):
        raise InputError(f"unknown engine {name!r}; choose auto, local or ray")
    if name == "local":
        return LocalEngine()
    if name == "auto" and address is None:
        try:
            import ray  # noqa: F401
        except ImportError:
            say("Ray is not installed: the captures run one after another "
                "(pip install 'occlurestyle[batch]' to run them side by side)")
            return LocalEngine()
        if (os.cpu_count() or 1) <= LOCAL_CORES:
            say(f"{os.cpu_count()} cores: the tasks run one after another, each on every core, which is "
                "faster here than side by side (--engine ray to use Ray anyway)")
            return LocalEngine()
    return RayEngine(address)
