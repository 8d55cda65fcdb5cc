"""The stages of a run, one module each, in order: frames, masks, register, depth, train, stylize,
people, render, composite.

Each stage module has:
- one options dataclass (`Options`, e.g. `TrainOptions`) holding its defaults, the only place they are
  written; a field's `metadata["help"]` is its help text, `metadata["hash"] = False` marks an option
  that does not change what the stage writes (so changing it does not re-run the stage);
- `run(layout, options, progress=True)`: reads the run folder, writes the stage's outputs;
- `outputs(layout, options)`: the paths whose absence makes a finished stage run again;
- optionally `check(options)` (the options alone, cheap) and `prepare(options)` (the folders and
  models the stage needs), which `pipeline.check_inputs` calls before any stage runs.

`pipeline.py` chains them over a run folder; the CLI's per-stage commands call the same `run`.
"""
