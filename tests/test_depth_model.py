"""The depth stage: local model folders, pre- and post-processing of frames, the maps it writes."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest
import torch

from occlurestyle import media
from occlurestyle.errors import InputError
from occlurestyle.recon import depth_model


def _frames(run, count=3, shape=(60, 80)):
    rng = np.random.default_rng(0)
    frames = []
    for i in range(count):
        # smooth, asymmetric content, so a flip, transpose or shift of the maps shows
        y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
        red = 40 + 180 * (x / shape[1]) ** 2 * (0.5 + y / shape[0]) / 1.5 + 5 * i
        image = np.stack([red, 255 - red, rng.uniform(0, 255, shape)], -1).astype(np.uint8)
        media.write_image(run / "frames" / f"{i:06d}.png", image)
        frames.append(image)
    return frames


def test_model_folder_errors_name_the_missing_file(tmp_path):
    with pytest.raises(InputError, match="needs a local model folder"):
        depth_model.check_model_dir(None)
    with pytest.raises(InputError, match="not found"):
        depth_model.check_model_dir(tmp_path / "nowhere")
    with pytest.raises(InputError, match="config.json not found"):
        depth_model.check_model_dir(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(InputError, match="model.safetensors or pytorch_model.bin"):
        depth_model.check_model_dir(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert depth_model.check_model_dir(tmp_path) == tmp_path


def test_preprocessing_follows_the_folders_config_and_keeps_the_aspect(tmp_path):
    assert depth_model.preprocessing(tmp_path)["size"] == 518  # Depth Anything's, without a config
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(
        {"size": {"height": 70, "width": 70}, "ensure_multiple_of": 14, "image_mean": [0.5] * 3,
         "image_std": [0.25] * 3}))
    settings = depth_model.preprocessing(tmp_path)
    image = np.full((60, 80, 3), 191, np.uint8)
    tensor = depth_model.model_input(image, settings)
    # shorter side 60 -> 70, longer 80 -> 93.3, rounded up to a multiple of 14
    assert tensor.shape == (1, 3, 70, 98)
    assert torch.allclose(tensor, torch.full_like(tensor, (191 / 255 - 0.5) / 0.25), atol=1e-5)


class _RedChannel(torch.nn.Module):
    """A stand-in depth model whose 'depth' is the input's red channel, undoing the normalisation."""

    def __init__(self, settings):
        super().__init__()
        self.mean, self.std = settings["mean"][0], settings["std"][0]
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.config = types.SimpleNamespace(model_type="red_channel")

    def forward(self, pixel_values):
        return types.SimpleNamespace(predicted_depth=pixel_values[:, 0] * self.std + self.mean)


def test_depth_maps_line_up_with_their_frames(tmp_path, monkeypatch):
    run = tmp_path / "run"
    frames = _frames(run)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    (model_dir / "model.safetensors").write_bytes(b"")
    monkeypatch.setattr(depth_model, "load_model", lambda folder: _RedChannel(depth_model.DEFAULT_PREPROCESSING))
    folder = depth_model.estimate_depths(run, model_dir, progress=False)
    for i, frame in enumerate(frames):
        values = np.load(folder / f"{i:06d}.npy")
        assert values.shape == frame.shape[:2] and values.dtype == np.float32
        # resized to 518 on the short side and back: the frame's red channel, not flipped or shifted
        assert np.abs(values * 255 - frame[..., 0]).mean() < 1.0
    assert json.loads((folder / "model.json").read_text())["frames"] == len(frames)
    assert not list(tmp_path.glob("run/.depth_maps.partial-*"))


def test_a_hugging_face_depth_model_runs_from_a_local_folder(tmp_path):
    transformers = pytest.importorskip("transformers", reason="the [depth] extra (transformers) is not installed")
    backbone = transformers.Dinov2Config(hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
                                         intermediate_size=64, image_size=56, patch_size=14, out_indices=[1, 2, 3, 4],
                                         reshape_hidden_states=False)
    config = transformers.DepthAnythingConfig(backbone_config=backbone, fusion_hidden_size=16,
                                              neck_hidden_sizes=[8, 16, 32, 32], reassemble_hidden_size=32,
                                              head_hidden_size=8)
    torch.manual_seed(0)
    transformers.DepthAnythingForDepthEstimation(config).save_pretrained(tmp_path / "model")
    (tmp_path / "model" / "preprocessor_config.json").write_text(json.dumps({"size": {"height": 56, "width": 56}}))
    run = tmp_path / "run"
    frames = _frames(run, count=2)
    folder = depth_model.estimate_depths(run, tmp_path / "model", progress=False)
    for i, frame in enumerate(frames):
        values = np.load(folder / f"{i:06d}.npy")
        assert values.shape == frame.shape[:2] and np.isfinite(values).all() and values.std() > 0
    assert json.loads((folder / "model.json").read_text())["model_type"] == "depth_anything"


def test_the_pipeline_checks_the_depth_model_before_any_work(tmp_path):
    from occlurestyle.pipeline import RunConfig, check_inputs

    video = tmp_path / "frames"
    _frames(tmp_path, count=1)
    style = tmp_path / "frames" / "000000.png"
    with pytest.raises(InputError, match="model folder not found"):
        check_inputs(RunConfig.create(video, style, depth={"model": str(tmp_path / "missing")}))
    with pytest.raises(InputError, match="not both"):
        check_inputs(RunConfig.create(video, style, depth={"model": str(tmp_path)},
                                      train={"person_depth_dir": str(tmp_path)}))
