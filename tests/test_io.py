"""Video and image-folder I/O: round trips and the one-line errors a user sees."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from occlurestyle import media
from occlurestyle.errors import InputError


def _frames(n=12, h=48, w=64):
    yy, xx = np.mgrid[0:h, 0:w]
    return [
        np.stack([(xx * 4 + 10 * i) % 256, (yy * 5) % 256, ((xx + yy) * 2 + 7 * i) % 256], -1).astype(np.uint8)
        for i in range(n)
    ]


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def test_video_round_trip_keeps_count_size_and_content(tmp_path):
    # smooth, low-saturation content: what H.264 with 4:2:0 chroma keeps almost exactly
    yy, xx = np.mgrid[0:48, 0:64] / 8.0
    frames = []
    for i in range(12):
        luma = 120 + 80 * np.sin(xx + 0.3 * i) * np.cos(yy - 0.2 * i)
        frames.append(np.stack([luma + 10, luma, luma - 10 * np.sin(0.5 * xx)], -1).astype(np.uint8))
    path = media.write_video(tmp_path / "clip.mp4", frames, fps=30)
    info = media.video_info(path)
    assert (info["width"], info["height"], info["frames"]) == (64, 48, 12)
    assert abs(info["fps"] - 30) < 1e-6
    names, back = media.read_frames(path)
    assert names == [f"{i:06d}" for i in range(12)]
    assert all(b.shape == (48, 64, 3) for b in back)
    assert min(_psnr(a, b) for a, b in zip(frames, back)) > 35


def test_video_stride_max_frames_and_max_side(tmp_path):
    path = media.write_video(tmp_path / "clip.mp4", _frames(10), fps=25)
    names, back = media.read_frames(path, stride=3, max_frames=3, max_side=32)
    assert names == ["000000", "000003", "000006"]
    assert back[0].shape == (24, 32, 3)


def test_odd_sized_frames_are_padded_to_even(tmp_path):
    frames = [f[:47, :63] for f in _frames(3)]
    path = media.write_video(tmp_path / "odd.mp4", frames)
    info = media.video_info(path)
    assert (info["width"], info["height"]) == (64, 48)


def test_folder_is_read_in_natural_order(tmp_path):
    frames = _frames(3)
    for name, frame in zip(["frame10", "frame2", "frame1"], frames):
        media.write_image(tmp_path / f"{name}.png", frame)
    (tmp_path / "notes.txt").write_text("not an image")
    names, back = media.read_frames(tmp_path)
    assert names == ["frame1", "frame2", "frame10"]
    assert np.array_equal(back[2], frames[0])


def test_png_sequence_round_trip(tmp_path):
    frames = _frames(4)
    paths = media.write_png_sequence(tmp_path / "seq", frames)
    assert [p.name for p in paths] == ["000000.png", "000001.png", "000002.png", "000003.png"]
    _, back = media.read_frames(tmp_path / "seq")
    assert all(np.array_equal(a, b) for a, b in zip(frames, back))


def _error(fn, *args, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message, "user errors are one line"
    return message


def test_errors_say_what_is_wrong_and_what_to_do(tmp_path):
    message = _error(media.read_frames, tmp_path / "missing.mp4")
    assert "not found" in message and "pass a video" in message

    (tmp_path / "empty").mkdir()
    message = _error(media.read_frames, tmp_path / "empty")
    assert "no images" in message

    garbage = tmp_path / "broken.mp4"
    garbage.write_bytes(b"this is not a video" * 100)
    message = _error(media.read_frames, garbage)
    assert "cannot read video" in message and "valid video" in message

    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert "cannot read video" in _error(media.read_frames, empty)

    mixed = tmp_path / "mixed"
    media.write_image(mixed / "a.png", np.zeros((10, 12, 3), np.uint8))
    media.write_image(mixed / "b.png", np.zeros((8, 12, 3), np.uint8))
    message = _error(media.read_frames, mixed)
    assert "different sizes" in message and "12x10" in message and "12x8" in message

    message = _error(media.read_frames, mixed / "a.png")
    assert "single image" in message

    assert "stride" in _error(media.read_frames, mixed, stride=0)


def test_write_image_is_atomic(tmp_path, monkeypatch):
    import cv2

    target = tmp_path / "out.png"
    monkeypatch.setattr(cv2, "imwrite", lambda *a, **k: False)
    with pytest.raises(InputError):
        media.write_image(target, np.zeros((4, 4, 3), np.uint8))
    assert list(tmp_path.iterdir()) == [], "a failed write leaves nothing behind"


def test_the_same_frames_give_the_same_video_file(tmp_path):
    # a slow noisy pan over 60 frames: content on which x264's macroblock-tree rate control gave a
    # different file on each of 6 encodes
    rng = np.random.default_rng(0)
    wall = cv2.normalize(cv2.GaussianBlur(rng.uniform(0, 255, (240, 400, 3)).astype(np.float32), (0, 0), 6),
                         None, 30, 220, cv2.NORM_MINMAX)
    frames = []
    for t in range(60):
        view = cv2.warpAffine(wall, np.float32([[1, 0, -0.4 * t], [0, 1, 0]]), (400, 240))[60:180, 40:200]
        frames.append(np.clip(view + rng.normal(0, 1.0, view.shape), 0, 255).astype(np.uint8))
    first = media.write_video(tmp_path / "a.mp4", frames).read_bytes()
    assert all(media.write_video(tmp_path / f"{k}.mp4", frames).read_bytes() == first for k in range(4))


def test_resize_mask_keeps_pixel_centres_aligned():
    """A disk shrunk as DAVIS masks are to the frames' size (854x480 -> 640x360) or enlarged 2.5x stays
    where the frames put it: centroid within 0.1 px (INTER_NEAREST moves it by 0.38-0.49 px here)."""
    def centroid(mask):
        ys, xs = np.nonzero(mask)
        return np.array([xs.mean(), ys.mean()]) + 0.5  # continuous coordinates

    yy, xx = np.mgrid[0:480, 0:854] + 0.5
    for cx, cy in [(300.3, 200.7), (500.0, 250.0)]:
        disk = (xx - cx) ** 2 + (yy - cy) ** 2 < 60**2
        small = media.resize_mask(disk, (640, 360))
        assert small.dtype == bool and small.shape == (360, 640)
        assert np.abs(centroid(small) - (cx * 640 / 854, cy * 360 / 480)).max() < 0.1
        assert abs(small.sum() - disk.sum() * 0.75**2) < 0.01 * small.sum()
    little = (xx[:120, :160] - 80.2) ** 2 + (yy[:120, :160] - 60.6) ** 2 < 30**2
    assert np.abs(centroid(media.resize_mask(little, (400, 300))) - (80.2 * 2.5, 60.6 * 2.5)).max() < 0.1
    assert np.array_equal(media.resize_mask(little, (160, 120)), little)  # the same size: unchanged
