"""Person maskers and mask clean-up."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest

from occlurestyle import media
from occlurestyle.errors import InputError
from occlurestyle.occlusion.postprocess import clean_masks
from occlurestyle.stages.masks import MaskOptions, make_masks


def _palette_png(path, indices: np.ndarray, palette: list[tuple[int, int, int]]):
    """A DAVIS-style 8-bit palette PNG written by hand (no imaging library needed)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    h, w = indices.shape
    raw = b"".join(b"\x00" + indices[y].astype(np.uint8).tobytes() for y in range(h))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0))
           + chunk(b"PLTE", bytes(c for rgb in palette for c in rgb)) + chunk(b"IDAT", zlib.compress(raw))
           + chunk(b"IEND", b""))
    path.write_bytes(png)


@pytest.fixture
def run_dir(tmp_path):
    run = tmp_path / "run"
    frames = [np.full((24, 32, 3), 40 * i, np.uint8) for i in range(4)]
    media.write_png_sequence(run / "frames", frames)
    return run


def _person(shape=(24, 32)):
    mask = np.zeros(shape, bool)
    mask[6:18, 10:20] = True
    return mask


def test_file_masker_reads_0_255_0_1_and_palette_masks(run_dir, tmp_path):
    masks = tmp_path / "masks_in"
    masks.mkdir()
    person = _person()
    media.write_image(masks / "000000.png", person.astype(np.uint8) * 255)
    media.write_image(masks / "000001.png", person.astype(np.uint8))  # 0/1
    _palette_png(masks / "000002.png", person.astype(np.uint8), [(0, 0, 0), (128, 0, 0)])  # DAVIS colours
    media.write_image(masks / "000003.png", np.dstack([person * 200] * 3).astype(np.uint8))  # colour
    make_masks(run_dir, MaskOptions(masker="file", mask_dir=str(masks), dilate=0, temporal=False), progress=False)
    for i in range(4):
        out = media.read_gray(run_dir / "masks" / f"{i:06d}.png")
        assert set(np.unique(out)) == {0, 255}
        assert np.array_equal(out > 0, person), i


def test_file_masker_matches_source_names_and_rescales_source_sized_masks(tmp_path):
    from occlurestyle.stages.frames import extract_frames

    source = tmp_path / "clip"
    big = [np.random.default_rng(i).integers(0, 255, (48, 64, 3), np.uint8) for i in range(8)]
    for i, frame in enumerate(big):
        media.write_image(source / f"img_{i:03d}.jpg", frame)
    run = tmp_path / "run"
    extract_frames(source, run, max_side=32, check_motion=False, progress=False)  # 32x24 frames, 64x48 masks
    masks = tmp_path / "masks_in"
    person = np.zeros((48, 64), np.uint8)
    person[10:30, 20:40] = 255
    for i in range(8):
        media.write_image(masks / f"img_{i:03d}.png", person)
    make_masks(run, MaskOptions(masker="file", mask_dir=str(masks), dilate=0, temporal=False), progress=False)
    out = media.read_gray(run / "masks" / "000005.png") > 0
    assert out.shape == (24, 32) and out[5:15, 10:20].all() and out.sum() == 100


def test_file_masker_errors_name_the_problem(run_dir, tmp_path):
    masks = tmp_path / "masks_in"
    masks.mkdir()
    for i in range(3):
        media.write_image(masks / f"{i:06d}.png", np.zeros((24, 32), np.uint8))
    with pytest.raises(InputError, match="no mask for frame 000003.png"):
        make_masks(run_dir, MaskOptions(masker="file", mask_dir=str(masks)), progress=False)
    media.write_image(masks / "000003.png", np.zeros((20, 32), np.uint8))
    with pytest.raises(InputError, match="32x20 but the frames are 32x24"):
        make_masks(run_dir, MaskOptions(masker="file", mask_dir=str(masks)), progress=False)
    with pytest.raises(InputError, match="needs a folder of masks"):
        make_masks(run_dir, MaskOptions(masker="file"), progress=False)
    with pytest.raises(InputError, match="unknown masker"):
        make_masks(run_dir, MaskOptions(masker="magic"), progress=False)
    assert not (run_dir / "masks").exists(), "a failed stage leaves no masks/ behind"


def test_clean_up_drops_flicker_fills_holes_removes_specks_and_dilates():
    person = _person((40, 40))
    holed = person.copy()
    holed[10, 14] = False  # a hole
    speck = np.zeros((40, 40), bool)
    speck[35, 35] = True
    masks = [person, holed | speck, person, np.zeros((40, 40), bool), person]
    out = list(clean_masks(masks, dilate_px=0, min_blob_fraction=0.002))
    assert out[1][10, 14], "hole filled"
    assert not out[1][35, 35], "one-pixel speck removed"
    assert np.array_equal(out[3], person), "a one-frame drop-out is filled by the temporal median"
    lone = [np.zeros((40, 40), bool), person, np.zeros((40, 40), bool)]
    assert not list(clean_masks(lone, dilate_px=0))[1].any(), "a one-frame flash is removed"
    grown = next(clean_masks([person], dilate_px=2, temporal=False))
    assert grown.sum() > person.sum() and grown[person].all() and grown[4:20, 10:20].all()


def test_the_temporal_median_is_a_vote_of_each_frame_and_its_neighbours_read_one_at_a_time():
    rng = np.random.default_rng(0)
    masks = [rng.random((6, 7)) < 0.5 for _ in range(9)]
    read = []

    def stream():
        for index, mask in enumerate(masks):
            read.append(index)
            yield mask

    out = []
    for index, mask in enumerate(clean_masks(stream(), dilate_px=0, fill_holes=False, min_blob_fraction=0)):
        assert len(read) <= index + 2, "at most one frame ahead"
        out.append(mask)
    padded = [masks[0], *masks, masks[-1]]
    expected = [(padded[i].astype(int) + padded[i + 1] + padded[i + 2]) >= 2 for i in range(len(masks))]
    assert all(np.array_equal(a, b) for a, b in zip(out, expected)) and len(out) == len(masks)


def test_plate_median_equals_numpys_nanmedian_for_any_count_of_views():
    import warnings

    from occlurestyle.occlusion.plates import nan_median

    rng = np.random.default_rng(3)
    for views in range(1, 7):
        stack = rng.random((views, 17, 23, 3)).astype(np.float32)
        stack[rng.random(stack.shape) < 0.4] = np.nan  # some pixels seen by no view at all
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nanmedian(stack, axis=0)
        np.testing.assert_allclose(nan_median(stack), expected, rtol=1e-6, atol=0)  # NaN where numpy's is


def test_channel_max_equals_numpys_max_over_the_last_axis_nan_included():
    from occlurestyle.occlusion.plates import channel_max

    rng = np.random.default_rng(4)
    for shape in ((17, 23, 3), (4, 17, 23, 3), (5, 7, 1)):
        image = rng.standard_normal(shape).astype(np.float32)
        image[rng.random(shape) < 0.1] = np.nan
        np.testing.assert_array_equal(channel_max(image), image.max(axis=-1))  # NaN where any channel is


def test_auto_masker_finds_people_with_the_true_static_scene(tmp_path):
    """Plates and segmentation, with the sample scene's true cameras and surface points standing in
    for SfM: the masks must overlap the ground-truth people well and avoid the room."""
    from occlurestyle.eval.metrics import sequence_mask_iou
    from occlurestyle.occlusion import auto_masker, plates
    from occlurestyle.scenes.generate import SampleScene, SceneConfig
    from occlurestyle.scenes.surface import sample_surface

    scene = SampleScene("living_room", SceneConfig(width=160, height=120, people="capsule"))
    renders = [scene.render(i) for i in range(0, 90, 2)]  # 15 fps
    images = [media.to_uint8(r["rgb"]) for r in renders]
    surface = sample_surface(scene, 4000, seed=1)
    geometry = plates.StaticGeometry(K=scene.K, viewmats={i: v for i, v in enumerate(scene.viewmats[::2])},
                                     points=surface["points"])
    window = auto_masker._Window(media.write_png_sequence(tmp_path / "frames", images), 320, reach=15)
    offsets = [-15, -12, -9, -6, -4, -2, 2, 4, 6, 9, 12, 15]
    options = auto_masker.AutoMaskOptions()
    picks = range(4, 41, 4)
    pairs = [(auto_masker.segment(images[t], auto_masker.frame_evidence(t, window, geometry, offsets), options),
              renders[t]["mask"]) for t in picks]
    assert len(window._kept) <= 2 * 15 + 1, "only the frames within reach are held"
    result = sequence_mask_iou(pairs)
    print(f"auto masks with true geometry: IoU {result['iou']:.3f}")
    assert result["iou"] > 0.6
    false_alarm = np.mean([np.mean(p & ~g) for p, g in pairs])
    assert false_alarm < 0.05, "little of the room is taken for a person"


def test_mask_cli_writes_masks_and_coverage(run_dir, tmp_path):
    from occlurestyle.cli import main

    masks = tmp_path / "masks_in"
    for i in range(4):
        media.write_image(masks / f"{i:06d}.png", _person().astype(np.uint8) * 255)
    main(["mask", str(run_dir), "--masker", "file", "--mask-dir", str(masks), "--dilate", "0"])
    info = json.loads((run_dir / "masks.json").read_text())
    assert info["options"]["masker"] == "file"
    assert info["coverage"]["000002"] == pytest.approx(_person().mean())


def test_file_masks_named_by_another_tool_are_matched_by_frame_number(tmp_path):
    """DAVIS/ProPainter masks (00000.png) for a video whose frames are 000000.png, taken every 2nd frame."""
    from occlurestyle.stages.frames import extract_frames

    frames = [np.full((48, 64, 3), 12 * i, np.uint8) for i in range(16)]
    video = media.write_video(tmp_path / "clip.mp4", frames, fps=10)
    extract_frames(video, tmp_path / "run", stride=2, check_motion=False, progress=False)
    for i in range(16):
        mask = np.zeros((48, 64), np.uint8)
        mask[:, 4 * i:4 * i + 4] = 255  # source frame i: a bar at x = 4i
        media.write_image(tmp_path / "davis" / f"{i:05d}.png", mask)
    make_masks(tmp_path / "run", MaskOptions(masker="file", mask_dir=str(tmp_path / "davis"), dilate=0,
                                             temporal=False, min_blob=0.0), progress=False)
    for run_frame in range(8):  # run frame k is source frame 2k
        columns = np.flatnonzero(media.read_gray(tmp_path / "run" / "masks" / f"{run_frame:06d}.png").any(axis=0))
        assert columns.tolist() == list(range(8 * run_frame, 8 * run_frame + 4))
    media.write_image(tmp_path / "davis" / "frame_4.png", np.zeros((48, 64), np.uint8))  # two masks say "4"
    (tmp_path / "davis" / "00004.png").rename(tmp_path / "davis" / "mask_0004.png")
    with pytest.raises(InputError, match="several masks are numbered 4"):
        make_masks(tmp_path / "run", MaskOptions(masker="file", mask_dir=str(tmp_path / "davis")), progress=False)


def test_file_masks_reach_the_compositor_as_given_while_training_gets_them_cleaned(run_dir, tmp_path):
    """A user's masks are the people's own pixels: the gap between an arm and the body stays open and a
    frame without anyone stays empty for the compositor, while registration and training get them
    filled, voted over time and grown. A later masker's masks replace them."""
    from occlurestyle.person_masks import masks_are_exact, read_masks

    given = []
    for i in range(4):
        person = np.zeros((24, 32), bool)
        if i != 2:  # nobody in frame 2: the temporal vote of its neighbours would put someone there
            person[4:20, 8:12] = person[4:20, 16:20] = person[4:7, 8:20] = person[17:20, 8:20] = True  # a loop
        given.append(person)
        media.write_image(tmp_path / "masks_in" / f"{i:06d}.png", person.astype(np.uint8) * 255)
    make_masks(run_dir, MaskOptions(masker="file", mask_dir=str(tmp_path / "masks_in")), progress=False)
    names = [f"{i:06d}.png" for i in range(4)]
    cleaned = [media.read_gray(run_dir / "masks" / name) > 0 for name in names]
    assert cleaned[0][10, 14] and cleaned[2].any()  # for training: the hole filled, frame 2 voted full
    assert all(np.array_equal(shown, person)
               for shown, person in zip(read_masks(run_dir, names, (24, 32), undilated=True), given))
    assert json.loads((run_dir / "masks.json").read_text())["exact"] and masks_are_exact(run_dir)

    make_masks(run_dir, MaskOptions(masker="auto"), progress=False)
    assert not (run_dir / "mattes").exists()
    assert not json.loads((run_dir / "masks.json").read_text())["exact"] and not masks_are_exact(run_dir)


def test_runs_made_before_masks_json_said_exact_know_their_file_masks_by_the_masker(tmp_path):
    from occlurestyle.person_masks import masks_are_exact

    assert not masks_are_exact(tmp_path)  # no masks stage yet
    for masker, exact in (("file", True), ("people", False), ("auto", False)):
        (tmp_path / "masks.json").write_text(json.dumps({"options": {"masker": masker}, "coverage": {}}))
        assert masks_are_exact(tmp_path) == exact, masker


def test_trusted_masks_only_gain_pixels():
    """A learned masker's fast limb (in one frame only) stays masked; its one-frame gap is filled."""
    person = _person()
    limb = np.zeros_like(person)
    limb[2:4, 25:31] = True  # 12 pixels: a small blob too
    found = [person, person | limb, np.zeros_like(person), person]
    plain = list(clean_masks(found, dilate_px=0, fill_holes=False))
    trusted = list(clean_masks(found, dilate_px=0, fill_holes=False, trusted=True))
    assert not plain[1][limb].any(), "the vote drops what one frame alone saw"
    assert trusted[1][limb].all() and np.array_equal(trusted[1], person | limb)
    assert np.array_equal(trusted[2], person), "the missed frame is filled from its neighbours"


def test_people_are_tinted_one_colour_each_and_the_rest_is_untouched():
    from occlurestyle.occlusion.masks import tint_people

    image = np.full((10, 30, 3), 100, np.uint8)
    instances = np.zeros((10, 30), np.uint8)
    instances[:, 0:10], instances[:, 10:20] = 1, 2
    mask = instances > 0
    mask[:, 20:25] = True  # mask pixels no instance holds (the masks stage's correction)
    tinted = tint_people(image, mask, instances)
    assert np.array_equal(tinted[:, 25:], image[:, 25:])
    assert tuple(tinted[5, 5]) != tuple(tinted[5, 15]), "each person their own colour"
    assert tuple(tinted[5, 22]) == tuple(tinted[5, 5]) != (100, 100, 100), "the rest of the mask tinted too"
    assert np.array_equal(tint_people(image, mask), tint_people(image, mask, np.zeros_like(instances)))
