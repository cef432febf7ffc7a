"""A non-editable install (a built wheel) carries the prompts and the seeds."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_wheel_ships_prompts_and_seeds_and_works_installed(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp_path / "dist").glob("qa-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "qa/prompts/answer_system_zh.txt" in names
    assert "qa/seeds/000_7aa804dae9d1415a.txt" in names
    assert "embeddings/store/local.py" in names
    assert "embeddings/store/base.py" in names
    assert "embeddings/readers/pdf.py" in names

    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    code = (
        "import qa.config as c, qa; "
        "print(qa.__file__); print(c.seeds_dir()); print(len(c.prompt_text('answer_user_zh')))"
    )
    # the installed copy, not the checkout: run from elsewhere with only the target first
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    ).stdout.splitlines()
    assert out[0].startswith(str(target))
    assert out[1].startswith(str(target))
    assert int(out[2]) > 20
