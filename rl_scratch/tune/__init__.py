"""Hyperparameter search on Optuna: `python -m rl_scratch.tune --env ENV --agent AGENT --trials N`.

Modules: `cli` (flags, workers, progress), `trial` (one trial = trainer subprocesses),
`space` (search spaces and config files), `storage` (journal file or database URL,
password masking), `report` (report.md, plots, best.toml). Needs the [tune] extra.
"""
