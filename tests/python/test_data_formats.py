"""The C++ readers of the shared data sets against Python's own csv, gzip and json modules.

The gtest Files.DumpsForPythonReference writes what the C++ side read (CrowS-Pairs through our RFC 4180 CSV reader,
HH-RLHF through our gzip JSONL reader and dialogue split) into $RLHF_TEST_OUT; every row is compared here.
"""
import csv
import gzip
import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("RLHF_BUILD", REPO / "build"))
SHARED = REPO.parent / "shared" / "data"
ASSISTANT = "\n\nAssistant:"


@pytest.fixture(scope="module")
def dumped(tmp_path_factory):
    if not SHARED.exists():
        pytest.skip(f"no {SHARED} (shared data is absent in this checkout)")
    binary = BUILD / "rlhf_base_tests"
    assert binary.exists(), f"{binary} is missing: build the rlhf_base_tests target (RLHF_BUILD={BUILD})"
    out = tmp_path_factory.mktemp("formats")
    result = subprocess.run([str(binary), "--gtest_filter=Files.DumpsForPythonReference"],
                            env={**os.environ, "RLHF_TEST_OUT": str(out)}, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[  PASSED  ] 1 test" in result.stdout, result.stdout
    return out


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_crows_pairs_match_python_csv(dumped):
    with open(SHARED / "crows-pairs" / "crows_pairs_anonymized.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    ours = read_jsonl(dumped / "crows.jsonl")
    assert len(ours) == len(rows) == 1508
    for row, pair in zip(rows, ours):
        for key in ("sent_more", "sent_less", "stereo_antistereo", "bias_type"):
            assert pair[key] == row[key], (row[""], key)


def test_hh_rlhf_split_matches_python(dumped):
    path = SHARED / "hh-rlhf" / "harmless-base-test-part1.jsonl.gz"
    expected = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            record = json.loads(line)
            splits = []
            for key in ("chosen", "rejected"):
                end = record[key].rfind(ASSISTANT) + len(ASSISTANT)
                splits.append((record[key][:end], record[key][end:]))
            if splits[0][0] != splits[1][0]:
                continue  # the C++ reader rejects (and here skips) pairs whose dialogues differ before the end
            expected.append((number, splits[0][0], [splits[0][1], splits[1][1]]))
    ours = read_jsonl(dumped / "hh.jsonl")
    assert len(ours) == len(expected) == 1499
    for (number, prompt, responses), example in zip(expected, ours):
        assert example["source"].rsplit(":", 1)[1] == str(number)
        assert example["prompt"] == prompt, number
        assert example["responses"] == responses, number
        assert example["ranks"] == [0, 1]
