"""The C++ MetricsLogger's event file, read by a reader that shares no code with it.

The gtest Metrics.WritesEventsForPythonReader logs five steps (step s: loss = 1/(s+1), reward = s/2, "ppo/kl" = s/100,
wall_time = 1000 + s) into $RLHF_TB_OUT/plain; Metrics.WritesEventsForPythonReaderAfterResume logs steps 0..9
(loss = s), then resumes from step 4 and logs 5..7 (loss = 100 + s) into $RLHF_TB_OUT/resumed. The files are read
with TensorBoard's own EventAccumulator (requirements.txt installs `tensorboard`) and with the record/protobuf decoder
below, written from TensorFlow's TFRecord format (masked CRC-32C) and
event.proto (Event: wall_time 1, step 2, file_version 3, summary 5, session_log 7).
"""
import json
import os
import struct
import subprocess
from pathlib import Path

import pytest
from tensorboard.backend.event_processing import event_accumulator

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("RLHF_BUILD", REPO / "build"))

EXPECTED = {
    "loss": [1.0 / (s + 1) for s in range(5)],
    "reward": [s / 2.0 for s in range(5)],
    "ppo/kl": [s / 100.0 for s in range(5)],
}


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def masked_crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path: Path):
    data = path.read_bytes()
    at = 0
    while at < len(data):
        header = data[at:at + 12]
        assert len(header) == 12, "truncated record header"
        (length,) = struct.unpack("<Q", header[:8])
        (length_crc,) = struct.unpack("<I", header[8:12])
        assert length_crc == masked_crc32c(header[:8]), "bad length CRC"
        payload = data[at + 12:at + 12 + length]
        (payload_crc,) = struct.unpack("<I", data[at + 12 + length:at + 16 + length])
        assert payload_crc == masked_crc32c(payload), "bad data CRC"
        yield payload
        at += 16 + length


def decode_message(data: bytes):
    """Protocol-buffer wire format -> {field number: [raw values]} (varints as ints, fixed as bytes)."""
    fields, at = {}, 0

    def varint():
        nonlocal at
        value, shift = 0, 0
        while True:
            byte = data[at]
            at += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while at < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            value = varint()
        elif wire == 1:
            value, at = data[at:at + 8], at + 8
        elif wire == 2:
            length = varint()
            value, at = data[at:at + length], at + length
        elif wire == 5:
            value, at = data[at:at + 4], at + 4
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    binary = BUILD / "rlhf_base_tests"
    assert binary.exists(), f"{binary} is missing: build the rlhf_base_tests target (RLHF_BUILD={BUILD})"
    out = tmp_path_factory.mktemp("tb")
    result = subprocess.run([str(binary), "--gtest_filter=Metrics.WritesEventsFor*"],
                            env={**os.environ, "RLHF_TB_OUT": str(out)}, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[  PASSED  ] 2 tests" in result.stdout, result.stdout
    return out


@pytest.fixture(scope="module")
def run_dir(out_dir):
    return out_dir / "plain"


def read_events(path):
    return [decode_message(record) for record in read_records(path)]


def test_records_and_events_decode(run_dir):
    files = sorted(run_dir.glob("events.out.tfevents.*"))
    assert len(files) == 1
    events = read_events(files[0])
    assert len(events) == 6
    assert events[0][3] == [b"brain.Event:2"]
    seen = {tag: [] for tag in EXPECTED}
    for s, event in enumerate(events[1:]):
        assert struct.unpack("<d", event[1][0])[0] == 1000 + s
        assert event[2] == [s]
        summary = decode_message(event[5][0])
        tags = []
        for value in summary[1]:
            fields = decode_message(value)
            tag = fields[1][0].decode()
            tags.append(tag)
            seen[tag].append(struct.unpack("<f", fields[2][0])[0])
        assert tags == ["loss", "reward", "ppo/kl"]
    for tag, values in seen.items():
        expected = [struct.unpack("<f", struct.pack("<f", v))[0] for v in EXPECTED[tag]]  # as float32
        assert values == expected, tag


def test_tensorboard_package_reads_it(run_dir):
    accumulator = event_accumulator.EventAccumulator(str(run_dir))
    accumulator.Reload()
    assert set(accumulator.Tags()["scalars"]) == set(EXPECTED)
    for tag, expected in EXPECTED.items():
        scalars = accumulator.Scalars(tag)
        assert [e.step for e in scalars] == list(range(5))
        assert [e.wall_time for e in scalars] == [1000.0 + s for s in range(5)]
        assert [e.value for e in scalars] == pytest.approx(expected, rel=1e-6)


def test_metrics_jsonl(run_dir):
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == list(range(5))
    for s, line in enumerate(lines):
        assert list(line) == ["step", "wall_time", "loss", "reward", "ppo/kl"]
        assert line["wall_time"] == 1000 + s
        for tag, expected in EXPECTED.items():
            assert line[tag] == expected[s]  # doubles round-trip exactly through JSON


def test_resumed_run_marks_its_restart(out_dir):
    files = sorted((out_dir / "resumed").glob("events.out.tfevents.*"))
    assert len(files) == 2
    first, second = read_events(files[0]), read_events(files[1])
    assert [event[2][0] for event in first[1:]] == list(range(10))
    assert second[0][3] == [b"brain.Event:2"]
    restart = second[1]
    assert restart[2] == [5]
    assert decode_message(restart[7][0]) == {1: [1]}  # SessionLog{status: START}
    assert [event[2][0] for event in second[2:]] == [5, 6, 7]
    lines = [json.loads(line) for line in (out_dir / "resumed" / "metrics.jsonl").read_text().splitlines()]
    assert [(line["step"], line["loss"]) for line in lines] == [(s, s) for s in range(5)] + [(s, 100 + s) for s in (5, 6, 7)]


def test_tensorboard_package_purges_the_steps_after_the_checkpoint(out_dir):
    accumulator = event_accumulator.EventAccumulator(str(out_dir / "resumed"))
    accumulator.Reload()
    assert [(e.step, e.value) for e in accumulator.Scalars("loss")] == [(s, s) for s in range(5)] + [
        (s, 100 + s) for s in (5, 6, 7)]
