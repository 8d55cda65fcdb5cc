"""Running a batch: its tasks planned per capture (the shared stages once, then per style a branch of
the shared run folder, the style's stages and the evaluation), started as soon as the task before them
succeeded, their progress shown, and the state kept in the batch folder.

`BATCH/CAPTURE/shared/` holds the stages that do not depend on the style; `BATCH/CAPTURE/STYLE/` is a
whole run folder (what `occlurestyle view`, `eval` and `report.html` take). `BATCH/batch.json` is the
state of every run, `BATCH/events.jsonl` one line per task that ended (ran, skipped as done, or failed),
`BATCH/index.html` links each run's report. A re-run does only what is missing: every stage is skipped
when its manifest says done, as in `occlurestyle run`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from ..errors import InputError
from ..fsutil import remove_temporaries, write_json
from ..pipeline import check_inputs
from . import tasks
from .engines import Task
from .spec import SHARED_FOLDER, Capture
from .summary import write_index

TRAINING_CORES = 4  # what a training task asks Ray for at most (without a GPU)


@dataclass
class RunState:
    """One capture × style: where it is, what each of its stages took, its figures or its error."""

    capture: str
    style: str
    status: str = "pending"  # pending, done, failed, interrupted
    stage: str | None = None  # the stage that failed
    error: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # stage → seconds (shared stages: the capture's)
    metrics: dict = field(default_factory=dict)


def plan(captures: list[Capture], out: Path, overrides: dict[str, str], evaluate: bool, cores: int, gpus: int
         ) -> tuple[list[Task], dict[str, RunState], dict[str, str]]:
    """The tasks, the runs' states, and the captures that cannot start (name → one-line error)."""
    work, states, refused = [], {}, {}
    for capture in captures:
        for style in capture.styles:
            states[f"{capture.name}/{style.name}"] = RunState(capture.name, style.name)
        try:
            check_inputs(capture.config(capture.styles[0], overrides))  # a missing or broken video, fast
        except InputError as error:
            refused[capture.name] = str(error)
            continue
        shared = f"{capture.name}/{SHARED_FOLDER}"
        config = capture.config(capture.styles[0], overrides).to_dict()
        before = None
        for stage in tasks.SHARED:
            training = stage == "train"
            work.append(Task(f"{shared}/{stage}", shared, stage, tasks.run_stage, (config, str(out / shared), stage),
                             after=before, cores=min(TRAINING_CORES, cores) if training and not gpus else 1,
                             gpus=1 if training and gpus else 0))
            before = work[-1].key
        last_shared = before
        for style in capture.styles:
            run = f"{capture.name}/{style.name}"
            config = capture.config(style, overrides).to_dict()
            work.append(Task(f"{run}/branch", run, "branch", tasks.branch, (str(out / shared), str(out / run)),
                             after=last_shared))
            before = work[-1].key
            for stage in tasks.PER_STYLE:
                work.append(Task(f"{run}/{stage}", run, stage, tasks.run_stage, (config, str(out / run), stage),
                                 after=before))
                before = work[-1].key
            if evaluate:
                work.append(Task(f"{run}/eval", run, "eval", tasks.evaluate, (str(out / run),), after=before))
    return work, states, refused


def run_batch(captures: list[Capture], out: str | Path, engine, overrides: dict[str, str] | None = None,
              evaluate: bool = True, progress: bool = True, say: Callable[[str], None] = print
              ) -> dict[str, RunState]:
    """Run every capture × style into `out` on `engine`; returns each run's state (also in batch.json).
    A capture that fails stops only its own runs; Ctrl-C stops the running tasks, records what finished,
    and re-raises (the same command then finishes what is missing)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    work, states, refused = plan(captures, out, overrides or {}, evaluate, engine.cores, engine.gpus)
    for name, error in refused.items():
        _fail(states, name, None, "input", error, say)
    waiting, done, failed = list(work), set(), set()
    events = out / "events.jsonl"
    # no bar where no one watches (not a terminal): the lines say the same
    bar = tqdm(total=len(work), desc=f"batch ({engine.name})", unit="task", disable=True if not progress else None)
    say = _through(bar, say)
    _save(out, states, engine)
    try:
        while waiting or engine.running():
            for task in list(waiting):
                if task.after is None or task.after in done:
                    engine.submit(task)
                    waiting.remove(task)
                elif task.after in failed:
                    failed.add(task.key)
                    waiting.remove(task)
                    bar.update()
            if not engine.running():
                continue
            task, result, error = engine.next_done()
            bar.update()
            record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "task": task.key, "run": task.run,
                      "stage": task.stage}
            if error is None:
                done.add(task.key)
                record.update(event="ran" if result["ran"] else "skipped", seconds=result["seconds"])
                _succeeded(states, task, result, "eval" if evaluate else tasks.PER_STYLE[-1], say)
            else:
                failed.add(task.key)
                record.update(event="failed", error=_one_line(error))
                capture = task.run.split("/")[0]
                _fail(states, capture, None if task.run.endswith(f"/{SHARED_FOLDER}") else task.run,
                      task.stage, _one_line(error), say)
            with open(events, "a") as log:
                log.write(json.dumps(record) + "\n")
            _save(out, states, engine)
            bar.set_postfix_str(_status(states, engine), refresh=False)
    except KeyboardInterrupt:
        say("interrupted: stopping the running tasks (the same command finishes what is missing)")
        engine.cancel()
        remove_temporaries(out)  # what the stopped tasks' writers had under way (a branch's beside its folder)
        for state in states.values():
            if state.status == "pending":
                state.status = "interrupted"
        _save(out, states, engine)
        raise
    finally:
        bar.close()
        write_index(out, states)
    return states


def _status(states: dict[str, RunState], engine) -> str:
    """Runs done and failed, and the tasks handed to the engine: `runs done 2/6 · failed 1 · next hall/shared
    train, ...` (up to three of them)."""
    done = sum(s.status == "done" for s in states.values())
    failed = sum(s.status == "failed" for s in states.values())
    tasks_ = engine.running()
    next_ = ", ".join(f"{task.run} {task.stage}" for task in tasks_[:3]) + (f" +{len(tasks_) - 3}" if len(tasks_) > 3
                                                                            else "")
    return f"runs done {done}/{len(states)} · failed {failed}" + (f" · next {next_}" if tasks_ else "")


def _through(bar, say: Callable[[str], None]) -> Callable[[str], None]:
    """Lines said while the bar is shown go above it."""
    if bar.disable:
        return say
    return lambda text: bar.write(text)


def _succeeded(states: dict[str, RunState], task: Task, result: dict, last: str, say: Callable[[str], None]
               ) -> None:
    capture, _, style = task.run.partition("/")
    runs = [s for s in states.values() if s.capture == capture and (style == SHARED_FOLDER or s.style == style)]
    for state in runs:
        if task.stage != "branch":
            state.seconds[task.stage] = result["seconds"]
        if "metrics" in result:
            state.metrics = result["metrics"]
    if task.stage == last:
        states[task.run].status = "done"
    what = f"{result['seconds']:.1f} s" if result["ran"] else "done already"
    say(f"[{task.run}] {task.stage}: {what}" + (" · run done" if task.stage == last else ""))


def _fail(states: dict[str, RunState], capture: str, run: str | None, stage: str, error: str,
          say: Callable[[str], None]) -> None:
    """Every run of `capture` (or just `run`) failed at `stage`."""
    for key, state in states.items():
        if state.capture == capture and (run is None or key == run) and state.status != "failed":
            state.status, state.stage, state.error = "failed", stage, error
    say(f"[{run or capture}] failed at {stage}: {error}")


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}" if not isinstance(error, InputError) else text[0]


def _save(out: Path, states: dict[str, RunState], engine) -> None:
    write_json(out / "batch.json", {"engine": engine.name, "runs": {k: vars(v) for k, v in states.items()}})
