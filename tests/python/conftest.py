"""Shared fixtures: where the build and the shared data are, and how to run the rlhf binary."""
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("RLHF_BUILD", REPO / "build"))
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def rlhf_bin():
    path = BUILD / "rlhf"
    if not path.exists():
        pytest.fail(f"{path} is missing: build first (make build)")
    return path


@pytest.fixture(scope="session")
def shared_data():
    data = SHARED / "data"
    if not data.exists():
        pytest.skip(f"shared data not found at {data} (it lives beside the clone in the project's workspace)")
    return data


def run_rlhf(rlhf_bin, *args, input=None, check=True, timeout=600):
    result = subprocess.run([str(rlhf_bin), *map(str, args)], input=input, capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"rlhf {' '.join(map(str, args))} failed ({result.returncode}):\n{result.stderr}")
    return result
