"""Every Python block of the README runs exactly as written."""

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs_as_written(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks may write files (checkpoints)
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        exec(compile(BLOCKS[index], f"README.md python block {index + 1}", "exec"), {"__name__": "__readme__"})
    if "# 0.93, the optimum" in BLOCKS[index]:
        assert float(out.getvalue().split()[-1]) == pytest.approx(0.93)


def test_the_readme_lists_every_file_of_a_run_folder():
    from rl_scratch import runs

    trainer_section = README.read_text(encoding="utf-8").split("## The trainer", 1)[1].split("\n## ", 1)[0]
    assert [name for name in runs.RUN_FILES if f"`{name}`" not in trainer_section] == []


def test_the_readme_shows_a_custom_map_that_gridworld_accepts():
    import json

    from rl_scratch.envs import GridWorld

    example = re.search(r"--env-kwarg 'desc=(\[.*?\])'", README.read_text(encoding="utf-8"))
    assert example, "the README shows no --env-kwarg 'desc=[...]' example"
    assert GridWorld(desc=json.loads(example.group(1))).shortest_path_length is not None
