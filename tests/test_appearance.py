"""Per-frame appearance: exposure and white-balance maps learnt with the background, neutral renders."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from conftest import make_true_run

from occlurestyle import media
from occlurestyle.layout import RunLayout
from occlurestyle.recon.appearance import IDENTITY, apply_appearance, read_appearance, write_appearance
from occlurestyle.recon.registration_files import read_cameras
from occlurestyle.recon.trainer import TrainOptions, train
from occlurestyle.render.gaussians import load_ply, render_views

GAIN = np.array([0.7, 0.8, 0.95])  # the second half of the clip: darker and bluer, as after a turn


def test_a_left_out_frame_takes_its_training_neighbours_average(tmp_path):
    names = [f"{i:06d}.png" for i in range(5)]
    matrices = np.stack([IDENTITY * (1 + 0.1 * i) for i in range(5)])
    maps = read_appearance(write_appearance(tmp_path / "appearance.json", names, matrices, np.array([1, 2, 4])))
    assert np.allclose(maps["000000.png"], matrices[1])  # only a later neighbour
    assert np.allclose(maps["000003.png"], (matrices[2] + matrices[4]) / 2)
    assert np.allclose(maps["000004.png"], matrices[4])
    assert read_appearance(tmp_path / "none.json") == {}
    image = np.full((2, 2, 3), 0.8, np.float32)
    assert np.allclose(apply_appearance(image, IDENTITY * 1.5), 1.0) and apply_appearance(image, None) is image


@pytest.fixture(scope="module")
def exposed_runs(tmp_path_factory):
    """The same clip, its second half darker and bluer (GAIN), trained with and without appearance maps."""
    folder = tmp_path_factory.mktemp("appearance")
    clip, _ = make_true_run(folder / "clip", width=96, height=72, stride=3, points=3000)
    frames = sorted((clip / "frames").glob("*.png"))
    for path in frames[len(frames) // 2:]:
        media.write_image(path, media.read_image(path).astype(np.float64) / 255.0 * GAIN)
    runs = {}
    for appearance in (True, False):
        runs[appearance] = shutil.copytree(clip, folder / f"appearance_{appearance}")
        train(runs[appearance], TrainOptions(steps=400, refine_every=50, checkpoint_every=10_000,
                                             appearance=appearance), progress=False)
    return runs


def _fit_psnr(run) -> float:
    """PSNR of each frame's render, under its own appearance map, against the frame (people excluded)."""
    layout = RunLayout(run)
    cameras = read_cameras(layout.sparse)
    views = render_views(load_ply(layout.background_ply), torch.tensor(cameras.viewmats), torch.tensor(cameras.Ks),
                         cameras.width, cameras.height)
    maps = read_appearance(layout.appearance)
    errors = []
    for k, name in enumerate(cameras.names):
        frame = media.read_image(layout.frames / name).astype(np.float64) / 255.0
        background = media.read_gray(layout.masks / name) == 0
        render = apply_appearance(views["rgb"][k].numpy().astype(np.float64), maps.get(name))
        errors.append(((render - frame) ** 2).mean(-1)[background].mean())
    return float(-10 * np.log10(np.mean(errors)))


def test_appearance_maps_learn_the_exposure_change_and_fit_every_frame_better(exposed_runs):
    layout = RunLayout(exposed_runs[True])
    names = read_cameras(layout.sparse).names
    maps = read_appearance(layout.appearance)
    first = np.mean([maps[n] for n in names[:len(names) // 2]], axis=0)
    second = np.mean([maps[n] for n in names[len(names) // 2:]], axis=0)
    ratio = second[:, :3].diagonal() / first[:, :3].diagonal()
    assert np.allclose(ratio, GAIN, atol=0.05), ratio
    assert np.allclose(np.mean([maps[n] for n in names], axis=0), IDENTITY, atol=0.02)  # neutral = the average
    assert not RunLayout(exposed_runs[False]).appearance.exists()
    with_maps, without = _fit_psnr(exposed_runs[True]), _fit_psnr(exposed_runs[False])
    assert with_maps > without + 1.0, (with_maps, without)
    info = json.loads((layout.splat / "train.json").read_text())
    assert info["options"]["appearance"] is True
