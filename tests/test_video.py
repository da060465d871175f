"""Recording and showing episodes: `play --record` as GIF or MP4 (the [video] extra), Gymnasium's
RecordVideo wrapper on our envs, and `play` on a machine with no display."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import imageio.v2 as imageio  # the [video] extra, part of the [test] extra (as is moviepy, for RecordVideo)
import numpy as np
import pytest

import rl_scratch  # noqa: F401  (registers the rl_scratch/* envs)

# A DQN checkpoint trained for a moment on the 5x5 GridWorld is all play needs.
TINY = ["--env", "GridWorld", "--agent", "dqn", "--steps", "200", "--eval-every", "0", "--eval-episodes", "1",
        "--set", "learning_starts=50", "--hidden", "8"]
# Runs `python -m rl_scratch.play` with the video extra's modules made unimportable, as if not installed.
WITHOUT_VIDEO_EXTRA = ("import sys; sys.modules['imageio'] = sys.modules['imageio_ffmpeg'] = None; "
                       "from rl_scratch.play import main; sys.exit(main(sys.argv[1:]))")


def run(args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env=os.environ if env is None else env)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("video")
    result = run(["-m", "rl_scratch.train", *TINY, "--out", folder / "run"], cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder / "run"


def test_play_records_an_mp4_with_the_video_extra(run_dir):
    video = run_dir.parent / "episodes.mp4"
    result = run(["-m", "rl_scratch.play", run_dir, "--record", video, "--episodes", 2, "--fps", 8], cwd=run_dir.parent)
    assert result.returncode == 0, result.stderr
    recorded = int(result.stdout.split("Recorded ")[1].split()[0])
    with imageio.get_reader(video) as reader:
        assert reader.get_meta_data()["fps"] == 8
        frames = [frame for frame in reader]
    assert len(frames) == recorded and frames[0].shape == (320, 320, 3)  # the 5x5 map at 64-pixel cells
    assert len({frame.tobytes() for frame in frames}) > 1, "the agent moves, so the frames differ"


def test_mp4_without_the_video_extra_is_one_error_line_naming_it(run_dir):
    video = run_dir.parent / "missing-extra.mp4"
    result = run(["-c", WITHOUT_VIDEO_EXTRA, run_dir, "--record", video], cwd=run_dir.parent)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "'video' extra" in lines[0] and "pip install -e '.[video]'" in lines[0] and ".gif" in lines[0]
    assert not video.exists() and result.stdout == ""


def test_gif_needs_no_extra(run_dir):
    gif = run_dir.parent / "no-extra.gif"
    result = run(["-c", WITHOUT_VIDEO_EXTRA, run_dir, "--record", gif, "--episodes", 1], cwd=run_dir.parent)
    assert result.returncode == 0, result.stderr
    assert gif.read_bytes()[:6] == b"GIF89a"


def test_play_without_a_display_says_so_and_points_to_record(run_dir):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    result = run(["-m", "rl_scratch.play", run_dir], cwd=run_dir.parent, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no display"), result.stderr
    assert "--record episodes.gif" in lines[0] and "DISPLAY and WAYLAND_DISPLAY are unset" in lines[0]
    assert "episode 1" not in result.stdout


def test_a_video_driver_chosen_on_purpose_plays_without_a_window(run_dir):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = run(["-m", "rl_scratch.play", run_dir, "--episodes", 1, "--fps", 1000],
                 cwd=run_dir.parent, env={**env, "SDL_VIDEODRIVER": "dummy"})
    assert result.returncode == 0, result.stderr
    assert "episode 1: return" in result.stdout


@pytest.mark.parametrize("env_id", ["rl_scratch/GridWorld-v0", "rl_scratch/Iris-v0", "rl_scratch/NextToken-v0"])
def test_our_envs_record_with_gymnasiums_record_video(tmp_path, env_id):
    folder = tmp_path / "videos"
    env = gym.wrappers.RecordVideo(gym.make(env_id, render_mode="rgb_array"), str(folder),
                                   episode_trigger=lambda episode: True, disable_logger=True)
    env.action_space.seed(0)
    for episode in range(2):  # two episodes, two videos (close() ends the second)
        env.reset(seed=0 if episode == 0 else None)
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            done = terminated or truncated
    env.close()
    videos = sorted(folder.glob("*.mp4"))
    assert len(videos) == 2
    with imageio.get_reader(videos[0]) as reader:
        frame = reader.get_data(0)
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8 and frame.std() > 0


def test_train_render_without_a_display_says_so(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    result = run(["-m", "rl_scratch.train", *TINY, "--render", "--out", tmp_path / "run"], cwd=tmp_path, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --render: no display"), result.stderr
    assert "--record" in lines[0] and not (tmp_path / "run").exists()
