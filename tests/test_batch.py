"""`occlurestyle batch`: specs read and checked before any work; on Ray, every run written with the
expensive stages once per capture, a broken capture failing alone, and an interrupted batch finished by
running it again; without Ray, the same one task after another."""

from __future__ import annotations

import importlib.util
import json
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import pytest
from terminal import cli

from occlurestyle.batch.spec import read_spec
from occlurestyle.batch.tasks import PER_STYLE, SHARED
from occlurestyle.errors import InputError

# the smallest runs that still go through every stage (the stages' own tests judge their quality; the
# colour stylizer takes half the materials' time)
CHEAP = ["--set", "train.steps=100", "--set", "train.max_gaussians=10000", "--set", "stylize.method=colour",
         "--set", "stylize.keep_structure=0", "--set", "stylize.key_views=2", "--set", "stylize.fit_steps=20",
         "--set", "render.flythrough=fixed"]


@pytest.fixture(scope="module")
def captures(small_run, tmp_path_factory) -> Path:
    """A folder with two copies of the small scene's video, a broken one, two styles (with labels) and a
    spec.csv listing the three captures × two styles with the true masks."""
    scene = small_run[1]
    folder = tmp_path_factory.mktemp("captures")
    for name in ("kitchen", "hall"):
        shutil.copy(scene / "video.mp4", folder / f"{name}.mp4")
    (folder / "broken.mp4").write_text("not a video")
    style = cv2.imread(str(scene / "style" / "style.png"))
    labels = cv2.imread(str(scene / "style" / "labels.png"), cv2.IMREAD_UNCHANGED)
    for name, image, label in (("warm", style, labels), ("cool", style[:, ::-1, ::-1], labels[:, ::-1])):
        cv2.imwrite(str(folder / f"{name}.png"), image)
        cv2.imwrite(str(folder / f"{name}_labels.png"), label)
        shutil.copy(scene / "style" / "labels.json", folder / f"{name}_labels.json")
    rows = ["video,style,style_labels,masks.masker,masks.mask_dir"]
    for name in ("kitchen", "broken", "hall"):
        rows.append(f"{name}.mp4,warm.png;cool.png,warm_labels.png;cool_labels.png,file,{scene / 'masks'}")
    (folder / "spec.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_a_spec_is_read_from_csv_yaml_or_a_folder_and_checked_before_any_work(captures, tmp_path):
    csv = read_spec(captures / "spec.csv", overrides={"train.steps": "100"})
    assert [c.name for c in csv] == ["kitchen", "broken", "hall"]
    assert [s.name for s in csv[0].styles] == ["warm", "cool"] and csv[0].styles[1].labels.name == "cool_labels.png"
    config = csv[0].config(csv[0].styles[1], {"train.steps": "100"})
    assert config.masks.masker == "file" and config.train.steps == 100 and config.style.endswith("cool.png")

    (captures / "spec.yaml").write_text(
        "captures:\n"
        "  - video: kitchen.mp4\n    name: flat 1 kitchen\n"
        "    styles: [warm.png, {image: cool.png, labels: cool_labels.png}]\n"
        "    options: {train: {steps: 50}, render.flythrough: orbit, frames.check_motion: false}\n"
        "  - video: kitchen.mp4\n    style: warm.png\n")
    yaml = read_spec(captures / "spec.yaml")
    assert [c.name for c in yaml] == ["flat_1_kitchen", "kitchen"]  # names made safe for folders
    config = yaml[0].config(yaml[0].styles[1])
    assert config.train.steps == 50 and config.render.flythrough == "orbit" and config.stylize.style_labels
    assert config.frames.check_motion is False
    folder = read_spec(captures, styles=[captures / "warm.png"])
    assert sorted(c.name for c in folder) == ["broken", "hall", "kitchen"]

    def refused(spec, match, **kwargs):
        with pytest.raises(InputError, match=match):
            read_spec(spec, **kwargs)

    refused(captures, "name the style", styles=[])
    video, style = captures / "kitchen.mp4", captures / "warm.png"
    (tmp_path / "typo.csv").write_text(f"video,style,train.stepz\n{video},{style},9\n")
    refused(tmp_path / "typo.csv", "train has no option 'stepz'")
    (tmp_path / "gone.csv").write_text(f"video,style\n{video},missing.png\n")
    refused(tmp_path / "gone.csv", "style image .*missing.png does not exist")
    (tmp_path / "bad.yaml").write_text("captures: [video: a.mp4\n")
    refused(tmp_path / "bad.yaml", "not valid YAML")
    refused(tmp_path / "nothing.txt", "does not exist")


def _events(out: Path) -> list[dict]:
    path = out / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def _manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())["stages"]


def _batch(captures: Path, out: Path, *extra: str) -> subprocess.Popen:
    command = cli("batch", str(captures / "spec.csv"), "--out", str(out), "--no-eval", *CHEAP, *extra)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_batch_on_ray_shares_the_capture_stages_fails_alone_and_resumes_after_ctrl_c(captures, tmp_path):
    pytest.importorskip("ray", reason="the batch's Ray engine needs the [batch] extra")
    out = tmp_path / "batch"
    first = _batch(captures, out, "--engine", "ray")
    deadline = time.monotonic() + 300
    while not any(e["stage"] == "composite" and e["event"] == "ran" for e in _events(out)):
        assert first.poll() is None, first.stdout.read()
        assert time.monotonic() < deadline, "no run finished within five minutes"
        time.sleep(0.2)
    first.send_signal(signal.SIGINT)  # Ctrl-C once the first run is done, the others under way
    said = first.communicate(timeout=120)[0]
    assert first.returncode == 130, said
    assert "interrupted" in said and "finishes what is missing" in said
    leftovers = [p for p in out.rglob(".*")]
    assert not leftovers, f"half-written files left behind: {leftovers[:3]}"  # temporary files and folders
    before = _events(out)
    done_first = {e["run"] for e in before if e["stage"] == "composite" and e["event"] == "ran"}
    state = json.loads((out / "batch.json").read_text())["runs"]
    assert {k for k, v in state.items() if v["status"] == "done"} == done_first
    assert any(v["status"] == "interrupted" for v in state.values())  # it stopped mid-way

    second = _batch(captures, out, "--engine", "ray")
    said = second.communicate(timeout=600)[0]
    assert second.returncode == 1, said  # the broken capture
    state = json.loads((out / "batch.json").read_text())["runs"]
    good = [f"{c}/{s}" for c in ("kitchen", "hall") for s in ("warm", "cool")]
    assert all(state[run]["status"] == "done" and (out / run / "final.mp4").is_file() for run in good), said
    for style in ("warm", "cool"):  # the broken capture failed alone, before any work, saying why
        assert state[f"broken/{style}"]["status"] == "failed"
        assert "cannot read video" in state[f"broken/{style}"]["error"]
    assert not (out / "broken").exists()

    for capture in ("kitchen", "hall"):  # the expensive stages once per capture, over both batches
        runs = {name: entry["runs"] for name, entry in _manifest(out / capture / "shared").items()}
        assert runs == {stage: 1 for stage in SHARED}
        for style in ("warm", "cool"):
            runs = {name: entry["runs"] for name, entry in _manifest(out / capture / style).items()}
            assert runs == {stage: 1 for stage in SHARED + PER_STYLE}  # the shared ones as its capture's
            shared, own = out / capture / "shared" / "splat" / "background.ply", out / capture / style / "splat"
            assert (own / "background.ply").stat().st_ino == shared.stat().st_ino  # a link, not a copy
    again = _events(out)[len(before):]
    assert all(e["event"] == "skipped" for e in again if e["run"] in done_first)  # only the rest ran again
    index = (out / "index.html").read_text()
    assert index.count('<tr data-status="done"') == 4 and index.count('<tr data-status="failed"') == 2
    assert 'href="kitchen/warm/final.mp4"' in index


def test_without_ray_a_batch_runs_one_task_after_another_and_says_how_to_add_it(captures, tmp_path, monkeypatch,
                                                                                capsys):
    from occlurestyle.batch.engines import LocalEngine, engine
    from occlurestyle.batch.run import run_batch

    from occlurestyle.batch import engines

    if importlib.util.find_spec("ray") is not None:  # on two cores, Ray is not worth its cost
        monkeypatch.setattr(engines.os, "cpu_count", lambda: 2)
        assert isinstance(engine("auto", say=print), LocalEngine)
        assert "faster here than side by side" in capsys.readouterr().out
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    runner = engine("auto", say=print)
    assert isinstance(runner, LocalEngine) and "pip install 'occlurestyle[batch]'" in capsys.readouterr().out
    with pytest.raises(InputError, match=r"occlurestyle\[batch\]"):
        engine("ray")
    monkeypatch.delitem(sys.modules, "ray")
    if importlib.util.find_spec("ray") is not None:  # an address nothing listens at fails at once
        with pytest.raises(InputError, match="no Ray cluster answers at 127.0.0.1:9"):
            engine("auto", address="127.0.0.1:9")
    monkeypatch.setitem(sys.modules, "ray", None)
    overrides = dict(item.split("=", 1) for item in CHEAP[1::2])
    spec = read_spec(captures / "spec.csv", overrides=overrides)[:1]  # kitchen, both styles
    out = tmp_path / "batch"
    states = run_batch(spec, out, runner, overrides, evaluate=False, progress=False)
    assert [s.status for s in states.values()] == ["done", "done"]
    ran = Counter(e["stage"] for e in _events(out) if e["event"] == "ran")
    assert all(ran[stage] == 1 for stage in SHARED) and all(ran[stage] == 2 for stage in PER_STYLE)
    assert all((out / "kitchen" / style / "final.mp4").is_file() for style in ("warm", "cool"))
    states = run_batch(spec, out, runner, overrides, evaluate=False, progress=False)
    assert [s.status for s in states.values()] == ["done", "done"]  # a second time: nothing left to run
    assert sum(e["event"] == "ran" for e in _events(out)) == sum(ran.values())

    spec[0].styles = spec[0].styles[:1]  # and with the evaluation, on one of them: its figures in the index
    state = run_batch(spec, out, runner, overrides, evaluate=True, progress=False)["kitchen/warm"]
    assert state.status == "done" and (out / "kitchen" / "warm" / "report.html").is_file()
    assert 0 < state.metrics["warping_error_gap1"] < state.metrics["inpaint_warping_error_gap1"]
    index = (out / "index.html").read_text()
    assert f"{state.metrics['warping_error_gap1'] * 1000:.2f}" in index and 'href="kitchen/warm/report.html"' in index
