"""Writes the Arrow IPC fixtures of tests/cpp/base/test_arrow_stream.cpp with pyarrow, the reference writer (the one
`datasets` uses): NAME.arrow, and for each file rlhf must read, NAME.json holding pyarrow's own rows
(Table.to_pylist()) that the C++ reader's rows must equal. bad-*.arrow are files rlhf must refuse with a clear error:
features it does not read (compression, dictionary encoding, a binary column) and damage pyarrow writes without
validating (offsets that decrease or point past the data, bytes that are not UTF-8 in a string column).
Run with the project's venv Python when the reader learns something new; the outputs are committed (a few KB).
tests/fuzz/make_seeds.py copies the readable ones into the fuzz corpus.
"""
import json
import pathlib

import pyarrow as pa

HERE = pathlib.Path(__file__).resolve().parent


def write_stream(name, batches, schema=None, options=None):
    schema = schema or batches[0].schema
    with pa.OSFile(str(HERE / name), "wb") as sink:
        with pa.ipc.new_stream(sink, schema, options=options) as writer:
            for batch in batches:
                writer.write_batch(batch)


def write_expected(name, batches):
    rows = pa.Table.from_batches(batches).to_pylist()
    (HERE / name).write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def message(role, content):
    return {"role": role, "content": content}


def trl_columns():
    """The columns of TRL's datasets, nulls at every level, unicode, several record batches (one of them empty)."""
    message_type = pa.struct([("role", pa.string()), ("content", pa.string())])
    schema = pa.schema([("messages", pa.list_(message_type)), ("prompt", pa.string()),
                        ("chosen", pa.large_string()), ("rejected", pa.large_list(message_type)),
                        ("responses", pa.list_(pa.string())), ("ranks", pa.list_(pa.int64())), ("score", pa.float64()),
                        ("id", pa.int64()), ("accepted", pa.bool_()), ("empty", pa.null())])
    rows = [
        {"messages": [message("system", "Be brief."), message("user", "Wie spät ist es? 🕐"),
                      message("assistant", "Zwölf Uhr — 日本語 too.")],
         "prompt": "What is 3 plus 4?", "chosen": "7.", "rejected": [message("assistant", "8.")],
         "responses": ["7.", "eight", ""], "ranks": [1, 2, 3], "score": 0.25, "id": -9007199254740993,
         "accepted": True},
        {"messages": None, "prompt": None, "chosen": None, "rejected": [], "responses": ["a", None, "c"],
         "ranks": None, "score": None, "id": None, "accepted": False},
        {"messages": [message("user", "tabs\tand\nnew lines \"quoted\""), message("assistant", None)],
         "prompt": "", "chosen": "ü" * 40, "rejected": None, "responses": [], "ranks": [2, 1],
         "score": -1e300, "id": 0, "accepted": None},
        {"messages": [None, message(None, "no role")], "prompt": "last", "chosen": "x", "rejected": None,
         "responses": None, "ranks": [], "score": 1.5, "id": 2**62, "accepted": True},
        {"messages": [], "prompt": "p", "chosen": "", "rejected": [message("assistant", "r")], "responses": ["z"],
         "ranks": [7], "score": 0.0, "id": 5, "accepted": False},
    ]
    table = pa.Table.from_pylist(rows, schema=schema)
    batches = [table.slice(0, 2).to_batches()[0], table.slice(2, 0).to_batches()[0] if table.slice(2, 0).num_rows
               else pa.RecordBatch.from_pylist([], schema=schema), table.slice(2, 3).to_batches()[0]]
    write_stream("trl_columns.arrow", batches, schema)
    write_expected("trl_columns.json", batches)


def scalar_types():
    """Every scalar width, their extremes, half floats, fixed-size lists, a struct, a batch sliced from a larger one."""
    schema = pa.schema([("i8", pa.int8()), ("i16", pa.int16()), ("i32", pa.int32()), ("i64", pa.int64()),
                        ("u8", pa.uint8()), ("u16", pa.uint16()), ("u32", pa.uint32()), ("u64", pa.uint64()),
                        ("f16", pa.float16()), ("f32", pa.float32()), ("f64", pa.float64()),
                        ("pair", pa.list_(pa.int16(), 2)), ("big", pa.large_list(pa.large_string())),
                        ("point", pa.struct([("x", pa.int32()), ("label", pa.string()), ("ok", pa.bool_())]))])
    import numpy as np
    rows = [
        {"i8": -128, "i16": -32768, "i32": -2**31, "i64": -2**63, "u8": 255, "u16": 65535, "u32": 2**32 - 1,
         "u64": 2**64 - 1, "f16": np.float16(-65504.0), "f32": 3.5, "f64": 2.0**-1074, "pair": [1, -2],
         "big": ["Ünïcödé", ""], "point": {"x": 1, "label": "a", "ok": True}},
        {"i8": 127, "i16": 32767, "i32": 2**31 - 1, "i64": 2**63 - 1, "u8": 0, "u16": 0, "u32": 0, "u64": 0,
         "f16": np.float16(2.0**-24), "f32": -0.0, "f64": 1.0, "pair": None, "big": None, "point": None},
        {"i8": None, "i16": None, "i32": None, "i64": None, "u8": None, "u16": None, "u32": None, "u64": None,
         "f16": None, "f32": None, "f64": None, "pair": [None, 3], "big": [None], "point": {"x": None, "label": None,
                                                                                         "ok": False}},
        {"i8": 0, "i16": 1, "i32": 2, "i64": 3, "u8": 4, "u16": 5, "u32": 6, "u64": 7, "f16": np.float16(0.333),
         "f32": 1e-45, "f64": -1e308, "pair": [0, 0], "big": ["x" * 70], "point": {"x": -1, "label": "é", "ok": None}},
    ]
    columns = {name: [row[name] for row in rows] for name in schema.names}
    columns["f16"] = pa.array([None if v is None else v for v in columns["f16"]], type=pa.float16())
    table = pa.table({name: (columns[name] if name == "f16" else pa.array(columns[name], type=schema.field(name).type))
                      for name in schema.names})
    batches = [table.slice(1, 3).combine_chunks().to_batches()[0], table.slice(0, 1).to_batches()[0]]
    write_stream("scalar_types.arrow", batches, table.schema)
    write_expected("scalar_types.json", batches)


def file_format():
    """The Arrow *file* format (magic, the stream, a footer), which datasets does not write but pyarrow users may."""
    batch = pa.RecordBatch.from_pylist([{"prompt": "What is 1 plus 1?", "completion": "2."},
                                        {"prompt": "Und 2 plus 2?", "completion": "4."}])
    with pa.OSFile(str(HERE / "file_format.arrow"), "wb") as sink:
        with pa.ipc.new_file(sink, batch.schema) as writer:
            writer.write_batch(batch)
    write_expected("file_format.json", [batch])


def bad_files():
    batch = pa.RecordBatch.from_pylist([{"prompt": "What is 1 plus 1?", "completion": "2."}] * 3)
    write_stream("bad-compressed-zstd.arrow", [batch], options=pa.ipc.IpcWriteOptions(compression="zstd"))
    write_stream("bad-compressed-lz4.arrow", [batch], options=pa.ipc.IpcWriteOptions(compression="lz4"))
    write_stream("bad-dictionary.arrow", [pa.record_batch({"prompt": pa.array(["a", "b", "a"]).dictionary_encode()})])
    write_stream("bad-binary-column.arrow", [pa.record_batch({"prompt": pa.array(["a"]),
                                                              "image": pa.array([b"\x89PNG"], type=pa.binary())})])
    write_stream("bad-timestamp-in-struct.arrow",
                 [pa.record_batch({"meta": pa.array([{"when": 0}], type=pa.struct([("when", pa.timestamp("s"))]))})])

    def strings(offsets, data, length):
        return pa.Array.from_buffers(pa.string(), length, [None, pa.py_buffer(offsets), pa.py_buffer(data)])

    import numpy as np
    offsets = lambda *v: np.array(v, dtype=np.int32).tobytes()
    write_stream("bad-decreasing-offsets.arrow", [pa.record_batch({"prompt": strings(offsets(0, 3, 1, 4), b"abcd", 3)})])
    # Damage that pyarrow refuses to build: written valid, then the file's offsets are changed in place.
    write_stream("bad-offsets-past-data.arrow", [pa.record_batch({"prompt": strings(offsets(0, 2, 4), b"abcd", 2)})])
    patch("bad-offsets-past-data.arrow", offsets(0, 2, 4), offsets(0, 2, 100))
    write_stream("bad-invalid-utf8.arrow", [pa.record_batch({"prompt": strings(offsets(0, 2, 4), b"ok\xff\xfe", 2)})])
    lists = pa.ListArray.from_arrays(pa.array([0, 1, 2], pa.int32()), pa.array(["aa", "bbb"]))
    write_stream("bad-list-offsets-past-items.arrow", [pa.record_batch({"responses": lists})])
    patch("bad-list-offsets-past-items.arrow", offsets(0, 1, 2), offsets(0, 1, 5))



def patch(name, old, new):
    data = (HERE / name).read_bytes()
    assert data.count(old) == 1, (name, data.count(old))
    (HERE / name).write_bytes(data.replace(old, new))


if __name__ == "__main__":
    for old in HERE.glob("*.arrow"):
        old.unlink()
    trl_columns()
    scalar_types()
    file_format()
    bad_files()
    for path in sorted(HERE.iterdir()):
        if path.suffix in (".arrow", ".json"):
            print(f"{path.name}: {path.stat().st_size} bytes")
