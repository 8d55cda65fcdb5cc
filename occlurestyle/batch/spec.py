"""What a batch holds: captures (a video, the styles to restyle it from, its options), read from a CSV or
YAML file, or from a folder of videos with styles given on the command line. Everything is checked here,
before any work: a misspelt option or a missing style image stops the batch; a missing or broken video
fails only its capture (when the batch starts it)."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..errors import InputError
from ..pipeline import RunConfig

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm")
SHARED_FOLDER = "shared"  # BATCH/CAPTURE/shared: the stages that do not depend on the style


@dataclass(frozen=True)
class Style:
    name: str
    image: Path
    labels: Path | None = None


@dataclass
class Capture:
    name: str
    video: Path
    styles: list[Style]
    options: dict[str, str] = field(default_factory=dict)  # "stage.option" → value, as `--set` takes them

    def config(self, style: Style, overrides: dict[str, str] | None = None) -> RunConfig:
        """The run of this capture with `style`: the batch's `overrides`, then the capture's own options."""
        config = RunConfig.create(self.video, style.image, style.labels)
        for key, value in {**(overrides or {}), **self.options}.items():
            config.set(key, value)
        return config


def read_spec(spec: str | Path, styles: Sequence[str | Path] = (), overrides: dict[str, str] | None = None
              ) -> list[Capture]:
    """The captures of `spec`: a .csv or .yaml/.yml file, or a folder whose videos are each a capture
    restyled from every one of `styles` (which a file's captures get too when they name none)."""
    spec = Path(spec)
    given = [_style(path, Path.cwd()) for path in styles]
    if spec.is_dir():
        videos = sorted(p for p in spec.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        if not videos:
            raise InputError(f"{spec} holds no video ({', '.join(VIDEO_SUFFIXES)})")
        if not given:
            raise InputError(f"{spec} is a folder of videos: name the style image(s) with --style")
        entries = [{"video": str(video)} for video in videos]
        base = spec
    elif spec.suffix.lower() == ".csv":
        entries, base = _read_csv(spec), spec.parent
    elif spec.suffix.lower() in (".yaml", ".yml"):
        entries, base = _read_yaml(spec), spec.parent
    elif not spec.exists():
        raise InputError(f"batch spec {spec} does not exist")
    else:
        raise InputError(f"batch spec {spec}: expected a .csv or .yaml file, or a folder of videos")
    if not entries:
        raise InputError(f"{spec} lists no capture")
    captures = [_capture(entry, base, given, f"{spec.name}, capture {i + 1}") for i, entry in enumerate(entries)]
    _unique_names(captures)
    for capture in captures:  # a misspelt or mistyped option fails here, before any work
        for style in capture.styles:
            capture.config(style, overrides)
    return captures


def _read_csv(path: Path) -> list[dict[str, Any]]:
    """Columns: video, style (several separated by `;`), optional name and style_labels (matching the
    styles), and any `stage.option` column (an empty cell keeps the default)."""
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    entries = []
    for row in rows:
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        if "video" not in row:
            raise InputError(f"{path} needs a `video` column (and `style`, unless --style is given)")
        entry: dict[str, Any] = {"video": row.pop("video"), "name": row.pop("name", "") or None}
        styles = [s.strip() for s in row.pop("style", "").split(";") if s.strip()]
        labels = [s.strip() for s in row.pop("style_labels", "").split(";") if s.strip()]
        if labels and len(labels) != len(styles):
            raise InputError(f"{path}: {entry['video']} has {len(styles)} styles but {len(labels)} style_labels")
        entry["styles"] = [{"image": s, "labels": labels[i] if labels else None} for i, s in enumerate(styles)]
        entry["options"] = {k: v for k, v in row.items() if v}
        entries.append(entry)
    return entries


def _read_yaml(path: Path) -> list[dict[str, Any]]:
    """A list of captures (or `captures:` holding one): `video`, `name`, `style` or `styles` (paths, or
    `{image, labels}`), `options` as `{stage.option: value}` or `{stage: {option: value}}`."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if isinstance(data, dict):
        data = data.get("captures")
    if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
        raise InputError(f"{path}: expected a list of captures, each with a `video`")
    entries = []
    for entry in data:
        styles = entry.get("styles", [entry["style"]] if "style" in entry else [])
        styles = styles if isinstance(styles, list) else [styles]
        styles = [s if isinstance(s, dict) else {"image": s} for s in styles]
        options: dict[str, Any] = {}
        for key, value in (entry.get("options") or {}).items():
            if isinstance(value, dict):
                options.update({f"{key}.{name}": v for name, v in value.items()})
            else:
                options[key] = value
        entries.append({"video": entry.get("video"), "name": entry.get("name"), "styles": styles,
                        "options": options})
    return entries


def _capture(entry: dict[str, Any], base: Path, given: list[Style], where: str) -> Capture:
    if not entry.get("video"):
        raise InputError(f"{where}: no video")
    video = _resolve(entry["video"], base)
    styles = [_style(s.get("image"), base, s.get("labels"), where) for s in entry.get("styles", [])] or given
    if not styles:
        raise InputError(f"{where} ({video.name}): no style; give it one, or name the style(s) with --style")
    options = {key: _text(value) for key, value in entry.get("options", {}).items()}
    return Capture(_slug(entry.get("name") or video.stem), video, _unique_styles(styles), options)


def _style(image, base: Path, labels=None, where: str = "--style") -> Style:
    if not image:
        raise InputError(f"{where}: a style without an image")
    path = _resolve(image, base)
    if not path.is_file():
        raise InputError(f"{where}: style image {path} does not exist")
    label_path = _resolve(labels, base) if labels else None
    if label_path is not None and not label_path.is_file():
        raise InputError(f"{where}: style labels {label_path} do not exist")
    return Style(_slug(path.stem), path, label_path)


def _resolve(path, base: Path) -> Path:
    path = Path(str(path)).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def _text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _slug(name: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._") or "capture"
    return f"{name}_" if name == SHARED_FOLDER else name


def _unique_styles(styles: list[Style]) -> list[Style]:
    seen: dict[str, int] = {}
    out = []
    for style in styles:
        seen[style.name] = seen.get(style.name, 0) + 1
        out.append(style if seen[style.name] == 1 else Style(f"{style.name}-{seen[style.name]}", style.image,
                                                              style.labels))
    return out


def _unique_names(captures: list[Capture]) -> None:
    seen: dict[str, int] = {}
    for capture in captures:
        seen[capture.name] = seen.get(capture.name, 0) + 1
        if seen[capture.name] > 1:
            capture.name = f"{capture.name}-{seen[capture.name]}"
