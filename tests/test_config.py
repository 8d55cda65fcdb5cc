"""One place for each default: the run's config is the stages' options, every option is reachable by
its dotted name (the CLI's --set, config files), and the CLI's flags take their defaults from the same
options classes."""

import dataclasses
import json

import pytest
import typer

from occlurestyle.errors import InputError
from occlurestyle.pipeline import STAGES, RunConfig


def _as_text(value) -> str:
    return json.dumps(value) if isinstance(value, (dict, list)) else "none" if value is None else str(value)


def test_every_stage_option_can_be_set_by_name_and_round_trips():
    config = RunConfig()
    for stage in STAGES:
        options = getattr(config, stage)
        for spec in dataclasses.fields(options):
            default = getattr(options, spec.name)
            config.set(f"{stage}.{spec.name}", _as_text(default))
            assert getattr(getattr(config, stage), spec.name) == default, f"{stage}.{spec.name}"
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_set_parses_by_the_option_type_and_refuses_what_does_not_fit():
    config = RunConfig()
    config.set("train.strategy", "mcmc")
    config.set("train.steps", "1200")
    config.set("stylize.fit_steps", "50")
    config.set("frames.max_frames", "none")
    config.set("masks.people", '{"det_threshold": 0.3}')
    assert (config.train.strategy, config.train.steps, config.stylize.fit_steps) == ("mcmc", 1200, 50)
    assert config.frames.max_frames is None and config.masks.people == {"det_threshold": 0.3}
    with pytest.raises(InputError, match="no option 'stratgy'"):
        config.set("train.stratgy", "mcmc")
    with pytest.raises(InputError, match="unknown stage 'training'"):
        config.set("training.steps", "10")
    with pytest.raises(InputError, match="train.steps='many'"):
        config.set("train.steps", "many")
    with pytest.raises(InputError, match="frames.check_motion='maybe'"):
        config.set("frames.check_motion", "maybe")


def test_a_config_file_sets_options_and_a_run_config_json_is_one(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('[train]\nsteps = 900\nstrategy = "mcmc"\n\n[render]\nflythrough = "spline"\n')
    config = RunConfig.load(toml)
    assert (config.train.steps, config.train.strategy, config.render.flythrough) == (900, "mcmc", "spline")
    assert config.masks == RunConfig().masks  # what the file does not name keeps its default
    saved = tmp_path / "config.json"
    made = RunConfig.create(tmp_path / "room.mp4", "style.png", train={"steps": 7}, masks={"mask_dir": tmp_path})
    saved.write_text(json.dumps(made.to_dict()))  # paths are kept as text
    again = RunConfig.load(saved)
    assert (again.video, again.style, again.train.steps) == (str(tmp_path / "room.mp4"), "style.png", 7)
    assert again.masks.mask_dir == str(tmp_path)
    (tmp_path / "bad.json").write_text('{"train": {"stepz": 3}}')
    with pytest.raises(InputError, match="no option 'stepz'"):
        RunConfig.load(tmp_path / "bad.json")


def test_the_cli_takes_each_stage_default_from_its_options_class():
    """Every flag of a per-stage command that names a stage option has that option's default."""
    from occlurestyle.cli import app

    commands = typer.main.get_command(app).commands
    checked = 0
    for command, stage in (("frames", "frames"), ("mask", "masks"), ("register", "register"), ("train", "train"),
                           ("stylize", "stylize")):
        options = getattr(RunConfig(), stage)
        names = {spec.name for spec in dataclasses.fields(options)}
        aliases = {"features": "max_num_features", "peak_threshold": "sift_peak_threshold",
                   "max_reproj_error": "filter_max_reproj_error", "motion_check": "check_motion"}
        for param in commands[command].params:
            name = aliases.get(param.name, param.name)
            if name in names and param.default is not None:
                assert param.default == getattr(options, name), f"{command} --{param.name}"
                checked += 1
    assert checked >= 25


def test_run_sets_any_option_and_fails_on_a_misspelt_one_before_any_work(tmp_path, capsys):
    from occlurestyle.cli import main

    with pytest.raises(SystemExit):
        main(["run", str(tmp_path / "v.mp4"), "--style", str(tmp_path / "s.png"), "--out", str(tmp_path / "run"),
              "--set", "train.stratgy=mcmc"])
    assert "train has no option 'stratgy'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
