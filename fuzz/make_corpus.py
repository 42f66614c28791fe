#!/usr/bin/python3
"""Writes the committed fuzz corpus: fuzz/corpus/<target>/ok-* (valid inputs, seeds) and bad-*
(malformed inputs, each rejected with a clear message; fuzz_replay checks both in every build).

Usage: fuzz/make_corpus.py [path/to/fcnet]   (the fcnet binary writes a real checkpoint to mutate;
default build/bin/fcnet). Files are written byte by byte from the format descriptions, so the
corpus does not depend on the readers under test.
"""
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

ROOT = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(ROOT, "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data, mtime=0):
    if isinstance(data, str):
        data = data.encode()
    return gzip.compress(data, mtime=mtime)


# ------------------------------------------------------------------------------------------------
# IDX: 00 00 <type> <ndim>, big-endian uint32 dims, big-endian elements.

def idx(type_code, dims, payload):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


PIX = bytes((i * 37 + 11) % 256 for i in range(24))


def idx_corpus():
    put("idx", "ok-images-u8.idx", idx(0x08, [3, 2, 4], PIX))
    put("idx", "ok-rows-f32.idx", idx(0x0D, [2, 3], struct.pack(">6f", 0.5, -1, 2, 1e-3, 3, -7.25)))
    put("idx", "ok-rows-f64.idx", idx(0x0E, [1, 2], struct.pack(">2d", 0.1, -1e200)))
    put("idx", "bad-magic.idx", b"\x01" + idx(0x08, [3, 2, 4], PIX)[1:])
    put("idx", "bad-type.idx", idx(0x07, [3, 2, 4], PIX))
    put("idx", "bad-zero-dims.idx", bytes([0, 0, 8, 0]))
    put("idx", "bad-too-many-dims.idx", bytes([0, 0, 8, 17]) + b"\x00\x00\x00\x01" * 17)
    put("idx", "bad-short-magic.idx", b"\x00\x00")
    put("idx", "bad-header-cut.idx", idx(0x08, [3, 2, 4], b"")[:9])
    put("idx", "bad-truncated.idx", idx(0x08, [3, 2, 4], PIX[:20]))
    put("idx", "bad-trailing.idx", idx(0x08, [3, 2, 4], PIX + b"xx"))
    put("idx", "bad-overflow.idx", idx(0x08, [0xFFFFFFFF] * 3, PIX))
    put("idx", "bad-overflow-f64.idx", idx(0x0E, [0x10000000, 0x10000000, 0x10000000, 0x10], PIX))
    put("idx", "bad-huge.idx", idx(0x08, [2000000000, 100, 100], PIX))
    put("idx", "bad-labels-as-data.idx", idx(0x08, [3], b"\x02\x00\x01"))
    put("idx", "bad-int16-features.idx", idx(0x0B, [1, 2], b"\x01" * 4))
    put("idx", "bad-no-examples.idx", idx(0x08, [0, 28, 28], b""))
    put("idx", "bad-no-features.idx", idx(0x08, [5, 0], b""))
    put("idx", "bad-empty.idx", b"")


# ------------------------------------------------------------------------------------------------
# gzip: a stream holding any of the formats.

def gzip_corpus():
    images = idx(0x08, [3, 2, 4], PIX)
    put("gzip", "ok-images.idx.gz", gz(images))
    put("gzip", "ok-table.csv.gz", gz("label,a,b\n0,1.5,2\n1,-3,4e-2\n"))
    put("gzip", "ok-rows.npy.gz", gz(npy("<f4", "(2, 2)", struct.pack("<4f", 1, 2, 3, 4))))
    put("gzip", "ok-multi-member.csv.gz", gz("label,a\n0,1\n") + gz("1,2\n"))
    import random
    rng = random.Random(7)
    noise = bytes(rng.randrange(256) for _ in range(3000))
    whole = gz(idx(0x08, [3, 40, 25], noise))
    put("gzip", "bad-cut-in-half.idx.gz", whole[: len(whole) // 2])
    put("gzip", "bad-cut-before-trailer.idx.gz", whole[:-6])
    flipped = bytearray(whole)
    flipped[len(flipped) // 2] ^= 0xFF
    put("gzip", "bad-corrupt-deflate.idx.gz", bytes(flipped))
    bad_crc = bytearray(gz(images))
    bad_crc[-8] ^= 0x01
    put("gzip", "bad-crc.idx.gz", bytes(bad_crc))
    bad_len = bytearray(gz(images))
    bad_len[-4] ^= 0x01
    put("gzip", "bad-length-trailer.idx.gz", bytes(bad_len))
    put("gzip", "bad-header-only.gz", gz(images)[:10])
    put("gzip", "bad-magic-only.gz", b"\x1f\x8b")
    put("gzip", "bad-method.gz", b"\x1f\x8b\x07\x00" + gz(images)[4:])
    put("gzip", "bad-truncated-idx.idx.gz", gz(idx(0x08, [5, 2, 4], PIX)))
    put("gzip", "bad-trailing-idx.idx.gz", gz(images + b"abc"))
    put("gzip", "bad-huge-idx.idx.gz", gz(idx(0x08, [2000000000, 100, 100], noise)))
    put("gzip", "bad-empty-stream.gz", gz(b""))
    put("gzip", "bad-ragged.csv.gz", gz("label,a,b\n0,1,2\n1,2\n"))
    put("gzip", "bad-fortran.npy.gz", gz(npy("<f4", "(2, 2)", b"\0" * 16, fortran="True")))
    # Bytes after the last gzip member that are not another member are ignored, as gunzip does.
    put("gzip", "ok-garbage-after-stream.idx.gz", gz(images) + b"\x00\x01garbage")


# ------------------------------------------------------------------------------------------------
# CSV

def csv_corpus():
    put("csv", "ok-header.csv", "x1,label,x2\n1.5,2,3\n-4,0,5e-1\n")
    put("csv", "ok-no-header.csv", "1,0.5,0.25\n0,1,2\n")
    put("csv", "ok-crlf-bom-quotes.csv", "\ufefflabel,\"a,b\",c\r\n0,\"1\",2\r\n1,\"3\",\"4\"\r\n")
    put("csv", "ok-class-names.csv", "label,a\ncat,1\ndog,2\ncat,3\n")
    put("csv", "ok-multiline-quoted-header.csv", "\"la\nbel\",label\n1,0\n2,1\n")
    put("csv", "ok-blank-lines.csv", "label,a\n\n0,1\n\n1,2\n\n")
    put("csv", "ok-escaped-quote.csv", "label,\"say \"\"hi\"\"\"\n0,1\n1,2\n")
    put("csv", "ok-cr-only.csv", "label,a\r0,1\r1,2\r")
    put("csv", "bad-ragged.csv", "label,a,b\n0,1,2\n1,2\n")
    put("csv", "bad-too-many-fields.csv", "label,a\n0,1\n1,2,3\n")
    put("csv", "bad-text.csv", "label,a,b\n0,1,2\n1,abc,2\n")
    put("csv", "bad-empty-cell.csv", "0,1,2\n1,,2\n")
    put("csv", "bad-nan.csv", "label,a\n0,1\n1,nan\n")
    put("csv", "bad-inf.csv", "label,a\n0,-inf\n")
    put("csv", "bad-overflow.csv", "label,a\n0,1e999\n")
    put("csv", "bad-empty.csv", "")
    put("csv", "bad-blank.csv", "\n  \n\r\n")
    put("csv", "bad-bom-only.csv", "\ufeff")
    put("csv", "bad-header-only.csv", "label,a,b\n")
    put("csv", "bad-header-only-crlf.csv", "\ufefflabel,a,b\r\n")
    put("csv", "bad-negative-label.csv", "label,a\n0,1\n-1,2\n")
    put("csv", "bad-fractional-label.csv", "label,a\n0,1\n\n1.5,2\n")
    put("csv", "bad-nan-label.csv", "label,a\n0,1\nnan,2\n")
    put("csv", "bad-huge-label.csv", "label,a\n0,1\n1e10,2\n")
    put("csv", "bad-empty-label.csv", "label,a\n0,1\n,2\n")
    put("csv", "bad-mixed-labels.csv", "label,a\n0,1\ncat,2\n")
    put("csv", "bad-unclosed-quote.csv", "label,a\n0,1\n1,\"2\n3,4\n")
    put("csv", "bad-after-quote.csv", "label,a\n0,\"1\"x\n")
    put("csv", "bad-only-label.csv", "label\n1\n")
    put("csv", "bad-binary.csv", "label,a\n0,\x01\x02\n")


# ------------------------------------------------------------------------------------------------
# NPY

def npy(descr, shape, payload, version=1, fortran="False", dict_text=None):
    d = dict_text if dict_text is not None else (
        "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape))
    pre = 10 if version == 1 else 12
    while (pre + len(d) + 1) % 64:
        d += " "
    d += "\n"
    h = b"\x93NUMPY" + bytes([version, 0])
    h += struct.pack("<H", len(d)) if version == 1 else struct.pack("<I", len(d))
    return h + d.encode("latin-1") + payload


F6 = struct.pack("<6f", 0.5, -1, 2, 1e-3, 3, -7.25)


def npy_corpus():
    put("npy", "ok-f4.npy", npy("<f4", "(3, 2)", F6))
    put("npy", "ok-f8-v2.npy", npy("<f8", "(3, 1)", struct.pack("<3d", 0.1, -2, 3), version=2))
    put("npy", "ok-u1-v3.npy", npy("|u1", "(2, 3)", bytes([0, 255, 17, 3, 99, 128]), version=3))
    put("npy", "ok-extra-key.npy",
        npy("", "", F6, dict_text="{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), "
            "'extra': [1, (2, 3), {'x': 'y'}], }"))
    put("npy", "bad-magic.npy", b"\x93NUMPX\x01\x00" + b"\0" * 40)
    put("npy", "bad-short.npy", b"\x93NUM")
    put("npy", "bad-version.npy", npy("<f4", "(3, 2)", F6, version=9))
    put("npy", "bad-header-length.npy", b"\x93NUMPY\x02\x00\xff\xff\xff\x7f")
    put("npy", "bad-header-cut.npy", npy("<f4", "(3, 2)", F6)[:30])
    put("npy", "bad-syntax.npy", npy("<f4", "[3, 2]", F6))
    put("npy", "bad-unterminated.npy", npy("", "", F6, dict_text="{'descr': '<f4"))
    put("npy", "bad-missing-shape.npy",
        npy("", "", F6, dict_text="{'descr': '<f4', 'fortran_order': False}"))
    put("npy", "bad-structured.npy",
        npy("", "", F6, dict_text="{'descr': [('a', '<f4')], 'fortran_order': False, "
            "'shape': (3, 2), }"))
    put("npy", "bad-fortran.npy", npy("<f4", "(3, 2)", F6, fortran="True"))
    put("npy", "bad-fortran-value.npy", npy("<f4", "(3, 2)", F6, fortran="Maybe"))
    put("npy", "bad-big-endian.npy", npy(">f4", "(3, 2)", F6))
    put("npy", "bad-int-dtype.npy", npy("<i4", "(3, 2)", F6))
    put("npy", "bad-object-dtype.npy", npy("|O", "(3, 2)", F6))
    put("npy", "bad-huge-item.npy", npy("<f99999999999999999999", "(3, 2)", F6))
    put("npy", "bad-truncated.npy", npy("<f4", "(4, 2)", F6))
    put("npy", "bad-trailing.npy", npy("<f4", "(2, 2)", F6))
    put("npy", "bad-1d.npy", npy("<f4", "(6,)", F6))
    put("npy", "bad-3d.npy", npy("<f4", "(1, 3, 2)", F6))
    put("npy", "bad-overflow.npy", npy("<f4", "(99999999999, 99999999999)", F6))
    put("npy", "bad-dim-overflow.npy", npy("<f4", "(999999999999999999999999, 2)", F6))
    put("npy", "bad-no-rows.npy", npy("<f4", "(0, 2)", b""))
    put("npy", "bad-negative-dim.npy", npy("<f4", "(-3, 2)", F6))


# ------------------------------------------------------------------------------------------------
# safetensors: model files and checkpoints.

def st_file(tensors, metadata=None, header_override=None, data_override=None):
    """tensors: list of (name, dtype, shape, bytes). Offsets in order."""
    h = {}
    data = b""
    for name, dtype, shape, raw in tensors:
        h[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        h["__metadata__"] = metadata
    text = header_override if header_override is not None else json.dumps(h)
    text = text.encode() if isinstance(text, str) else text
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + (data_override if data_override is not None else data)


def f32(*v):
    return struct.pack("<%df" % len(v), *v)


def f64(*v):
    return struct.pack("<%dd" % len(v), *v)


# A 3-4-2 network: W1 [3,4], b1 [4], W2 [4,2], b2 [2].
W1 = f32(*[0.1 * (i + 1) * (-1) ** i for i in range(12)])
B1 = f32(0.5, -0.25, 0.125, 1)
W2 = f32(*[0.2 * (i + 1) for i in range(8)])
B2 = f32(-1, 1)
NET = [("W1", "F32", [3, 4], W1), ("b1", "F32", [4], B1), ("W2", "F32", [4, 2], W2),
       ("b2", "F32", [2], B2)]
META = {"format": "fcnet", "format_version": "1", "activation": "tanh"}


def replace(net, name, **kw):
    out = []
    for t in net:
        if t[0] == name:
            t = (kw.get("name", t[0]), kw.get("dtype", t[1]), kw.get("shape", t[2]), kw.get("raw", t[3]))
        out.append(t)
    return out


def safetensors_corpus(fcnet):
    put("safetensors", "ok-model-f32.safetensors", st_file(NET, META))
    put("safetensors", "ok-bare-weights.safetensors", st_file(NET))
    net64 = [("W1", "F64", [2, 3], f64(1, -2, 3, -4, 5, -6)), ("b1", "F64", [3], f64(0.1, 0.2, 0.3)),
             ("W2", "F64", [3, 2], f64(1, 2, 3, 4, 5, 6)), ("b2", "F64", [2], f64(0, 1)),
             ("input_mean", "F64", [2], f64(0.5, 0.25)), ("input_std", "F64", [2], f64(2, 4))]
    put("safetensors", "ok-model-f64-transform.safetensors",
        st_file(net64, {"format": "fcnet", "format_version": "1", "activation": "gelu",
                        "input_scale": "0.5", "classes": json.dumps(["no", "yes"])}))
    ok = st_file(NET, META)
    put("safetensors", "bad-short.safetensors", ok[:5])
    put("safetensors", "bad-header-length.safetensors", struct.pack("<Q", 1 << 40) + ok[8:])
    put("safetensors", "bad-header-cut.safetensors", ok[:40])
    put("safetensors", "bad-json.safetensors", st_file([], header_override='{"W1": {"dtype": '))
    put("safetensors", "bad-not-object.safetensors", st_file([], header_override="[1, 2, 3]"))
    put("safetensors", "bad-entry-fields.safetensors",
        st_file([], header_override='{"W1": {"dtype": "F32"}}'))
    put("safetensors", "bad-dtype.safetensors", st_file(replace(NET, "W1", dtype="Q7"), META))
    put("safetensors", "bad-int-weights.safetensors",
        st_file(replace(NET, "W1", dtype="I32"), META))
    put("safetensors", "bad-mixed-dtypes.safetensors",
        st_file(replace(NET, "b1", dtype="F64", shape=[2]), META))
    put("safetensors", "bad-negative-shape.safetensors",
        st_file([], header_override='{"W1": {"dtype": "F32", "shape": [-3, 4], "data_offsets": [0, 0]}}'))
    put("safetensors", "bad-shape-overflow.safetensors",
        st_file([], header_override='{"W1": {"dtype": "F64", "shape": [4294967296, 4294967296, 16],'
                ' "data_offsets": [0, 0]}}'))
    put("safetensors", "bad-offsets-out-of-range.safetensors",
        st_file([], header_override='{"W1": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]}}'))
    put("safetensors", "bad-offsets-reversed.safetensors",
        st_file([], header_override='{"W1": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}}',
                data_override=b"\0" * 8))
    put("safetensors", "bad-offsets-negative.safetensors",
        st_file([], header_override='{"W1": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}}'))
    overlap = ('{"W1": {"dtype": "F32", "shape": [1, 2], "data_offsets": [0, 8]}, '
               '"b1": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}')
    put("safetensors", "bad-overlap.safetensors", st_file([], header_override=overlap,
                                                           data_override=b"\0" * 12))
    put("safetensors", "bad-shape-vs-bytes.safetensors",
        st_file(replace(NET, "W1", shape=[3, 3]), META))
    put("safetensors", "bad-missing-bias.safetensors",
        st_file([t for t in NET if t[0] != "b2"], META))
    put("safetensors", "bad-no-weights.safetensors", st_file([("b1", "F32", [4], B1)], META))
    put("safetensors", "bad-no-chain.safetensors",
        st_file(replace(NET, "W2", shape=[2, 4]), META))
    put("safetensors", "bad-bias-shape.safetensors", st_file(replace(NET, "b1", shape=[2, 2]), META))
    put("safetensors", "bad-extra-tensor.safetensors",
        st_file(NET + [("W9", "F32", [1], f32(1))], META))
    put("safetensors", "bad-unknown-activation.safetensors",
        st_file(NET, dict(META, activation="swish")))
    put("safetensors", "bad-format-version.safetensors",
        st_file(NET, dict(META, format_version="2")))
    put("safetensors", "bad-format.safetensors", st_file(NET, dict(META, format="onnx")))
    put("safetensors", "bad-metadata-not-string.safetensors",
        st_file(NET, header_override=json.dumps({"__metadata__": {"activation": 3}})))
    put("safetensors", "bad-nan-weight.safetensors",
        st_file(replace(NET, "W2", raw=f32(*([1.0] * 7 + [float("nan")]))), META))
    put("safetensors", "bad-classes.safetensors",
        st_file(NET, dict(META, classes=json.dumps(["a", "b", "c"]))))
    put("safetensors", "bad-classes-json.safetensors", st_file(NET, dict(META, classes="[a, b")))
    put("safetensors", "bad-input-std.safetensors",
        st_file(NET + [("input_std", "F32", [3], f32(1, 0, 1))], META))
    put("safetensors", "bad-input-mean-shape.safetensors",
        st_file(NET + [("input_mean", "F32", [4], f32(1, 0, 1, 2))], META))
    put("safetensors", "bad-image-shape.safetensors", st_file(NET, dict(META, image_shape="[2, 2]")))
    put("safetensors", "bad-image-shape-json.safetensors",
        st_file(NET, dict(META, image_shape="{\"h\": 1}")))
    put("safetensors", "ok-image-shape.safetensors", st_file(NET, dict(META, image_shape="[1, 3]")))
    put("safetensors", "bad-leaky-alpha.safetensors",
        st_file(NET, dict(META, leaky_relu_alpha="fast")))

    # Checkpoints: one written by fcnet train, then damaged in its JSON and state tensors.
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "d.csv")
        with open(data, "w") as f:
            f.write("label,a,b,c\n")
            for i in range(12):
                f.write("%d,%g,%g,%g\n" % (i % 3, i * 0.5, (i * 7) % 5, -i))
        ck = os.path.join(tmp, "ck.safetensors")
        subprocess.run([fcnet, "train", "--data", data, "--hidden", "4", "--epochs", "2",
                        "--batch", "5", "--optimizer", "adam", "--val-split", "0.25", "--seed", "3",
                        "--test-data", "none", "--out", os.path.join(tmp, "m.safetensors"),
                        "--checkpoint", ck, "--quiet", "--threads", "1"], check=True)
        with open(ck, "rb") as f:
            raw = f.read()
    put("safetensors", "ok-checkpoint.safetensors", raw)
    hlen = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + hlen])
    body = raw[8 + hlen:]

    def ck_with(name, edit_header=None, edit_ck=None):
        h = json.loads(json.dumps(header))
        if edit_ck:
            c = json.loads(h["__metadata__"]["checkpoint"])
            edit_ck(c)
            h["__metadata__"]["checkpoint"] = json.dumps(c)
        if edit_header:
            edit_header(h)
        text = json.dumps(h).encode()
        text += b" " * ((8 - len(text) % 8) % 8)
        put("safetensors", name, struct.pack("<Q", len(text)) + text + body)

    ck_with("bad-ck-json.safetensors",
            edit_header=lambda h: h["__metadata__"].update(checkpoint="{not json"))
    ck_with("bad-ck-version.safetensors", edit_ck=lambda c: c.update(version=7))
    ck_with("bad-ck-missing-position.safetensors", edit_ck=lambda c: c.pop("position"))
    ck_with("bad-ck-epoch-type.safetensors", edit_ck=lambda c: c["position"].update(epoch="two"))
    ck_with("bad-ck-negative-step.safetensors", edit_ck=lambda c: c["position"].update(step=-4))
    ck_with("bad-ck-rng-zero.safetensors", edit_ck=lambda c: c["rng"].update(shuffle=[0, 0, 0, 0]))
    ck_with("bad-ck-rng-short.safetensors", edit_ck=lambda c: c["rng"].update(dropout=[1, 2]))
    ck_with("bad-ck-optimizer.safetensors",
            edit_ck=lambda c: c["config"]["optimizer"].update(kind="lion"))
    ck_with("bad-ck-hidden.safetensors", edit_ck=lambda c: c["config"].update(hidden=[5]))
    ck_with("bad-ck-history.safetensors", edit_ck=lambda c: c.update(history=[]))
    ck_with("bad-ck-data-width.safetensors", edit_ck=lambda c: c["data"].update(features=9))

    def shrink_opt_m(h):
        t = h["state.opt_m"]
        t["shape"] = [t["shape"][0] - 1]
        t["data_offsets"][1] -= 4
    ck_with("bad-ck-opt-m-shape.safetensors", edit_header=shrink_opt_m)
    ck_with("bad-ck-opt-dtype.safetensors",
            edit_header=lambda h: h["state.opt_v"].update(dtype="I32"))
    ck_with("bad-ck-input-std.safetensors",
            edit_header=lambda h: h["state.input_std"].update(dtype="F32", shape=[h["state.input_std"]["shape"][0] * 2]))
    ck_with("bad-ck-extra-state.safetensors",
            edit_header=lambda h: h.update(
                {"state.extra": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}))


def main():
    fcnet = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "build", "bin", "fcnet")
    idx_corpus()
    gzip_corpus()
    csv_corpus()
    npy_corpus()
    safetensors_corpus(fcnet)


if __name__ == "__main__":
    main()
