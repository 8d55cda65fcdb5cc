"""Many captures × styles as one job (`occlurestyle batch`): `spec` reads what to run, `tasks` are the
units of work, `engines` run them (in this process, or on Ray), `run` schedules them and keeps the
batch's state, `summary` writes what happened."""
