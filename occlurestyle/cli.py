"""The `occlurestyle` command line: thin wrappers over the stages; user errors print as one line."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .errors import OccluReStyleError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_show_locals=False,
                  help="Restyle a room video in 3D from one style image, with the people composited back.")
scene_app = typer.Typer(no_args_is_help=True, help="Built-in sample scenes with ground truth.")
app.add_typer(scene_app, name="scene")


@scene_app.command("list")
def scene_list() -> None:
    """List the built-in sample scenes."""
    from .scenes.rooms import SCENES

    for name, build in sorted(SCENES.items()):
        typer.echo(f"{name:12s} {build(0).description}")


@scene_app.command("make")
def scene_make(
    name: str = typer.Argument(..., help="scene name (see `occlurestyle scene list`)"),
    out: Path = typer.Option(..., "--out", help="output folder"),
    frames: int = typer.Option(90, help="number of frames"),
    width: int = typer.Option(320, help="image width"),
    height: int = typer.Option(240, help="image height"),
    seed: int = typer.Option(0, help="random seed (textures, clothes, camera shake)"),
    fps: float = typer.Option(30.0, help="frame rate"),
    overwrite: bool = typer.Option(False, help="replace an existing output folder"),
) -> None:
    """Render a sample scene: frames, ground truth (background, masks, depth, semantics, cameras), video.mp4."""
    from .scenes.generate import SceneConfig, make_scene

    config = SceneConfig(frames=frames, width=width, height=height, seed=seed, fps=fps)
    out = make_scene(name, out, config, overwrite=overwrite)
    typer.echo(f"wrote {out}")


@app.command()
def demo(out: Path = typer.Option(Path("out/demo"), "--out", help="output folder")) -> None:
    """Run on the built-in sample: for now, render the living-room scene and its video."""
    from .scenes.generate import make_scene

    scene_dir = make_scene("living_room", out / "scene", overwrite=True)
    typer.echo(f"wrote {scene_dir} (video: {scene_dir / 'video.mp4'})")


def main(argv: Optional[list[str]] = None) -> None:
    try:
        app(args=argv)
    except OccluReStyleError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
