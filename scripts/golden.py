#!/usr/bin/env python3
"""Golden vectors: Apache Thrift's own TBinaryProtocol encodes a fixed set of values and messages.

    scripts/golden.py           writes tests/golden/*.bin and tests/golden/MANIFEST
    scripts/golden.py --check   fails unless the checked-in vectors are exactly what it writes

tests/golden.rs encodes the same values with tether, compares byte for byte and decodes every
vector back. The values here and there must stay in step: change both, then run this script.

Structs are written field by field through the protocol (writeStructBegin, writeFieldBegin...),
the calls Apache's generated code makes, so no IDL compiler is needed. Maps and sets are written
in sorted order, the order tether's BTreeMap/BTreeSet use.
"""

import hashlib
import math
import os
import sys

from thrift.protocol import TBinaryProtocol
from thrift.protocol.TProtocol import TType
from thrift.Thrift import TApplicationException, TMessageType
from thrift.transport import TTransport

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden")

# ---- values -------------------------------------------------------------------------------------

BYTES = [-128, -1, 0, 1, 127]
I16S = [-32768, -1, 0, 1, 255, 32767]
I32S = [-(2**31), -1, 0, 1, 0x12345678, 2**31 - 1]
I64S = [-(2**63), -1, 0, 1, 2**53 + 1, 2**63 - 1]
DOUBLES = [
    0.0,
    -0.0,
    1.0,
    -1.5,
    math.pi,
    1e308,
    -1e-308,
    5e-324,  # smallest subnormal
    sys.float_info.max,
    -sys.float_info.max,
    math.inf,
    -math.inf,
]
STRINGS = ["", "hello", "héllo wörld", "日本語", "crab \U0001f980", "nul\x00inside"]
BINARIES = [b"", b"\x00\xff\x80", bytes(range(256))]


def write_list(p, etype, items, write):
    p.writeListBegin(etype, len(items))
    for item in items:
        write(item)
    p.writeListEnd()


def write_set(p, etype, items, write):
    p.writeSetBegin(etype, len(items))
    for item in sorted(items):
        write(item)
    p.writeSetEnd()


def write_map(p, ktype, vtype, pairs, write_key, write_value):
    p.writeMapBegin(ktype, vtype, len(pairs))
    for key, value in sorted(pairs.items()):
        write_key(key)
        write_value(value)
    p.writeMapEnd()


def values_bool(p):
    p.writeBool(True)
    p.writeBool(False)


def values_byte(p):
    for v in BYTES:
        p.writeByte(v)


def values_i16(p):
    for v in I16S:
        p.writeI16(v)


def values_i32(p):
    for v in I32S:
        p.writeI32(v)


def values_i64(p):
    for v in I64S:
        p.writeI64(v)


def values_double(p):
    for v in DOUBLES:
        p.writeDouble(v)


def values_string(p):
    for v in STRINGS:
        p.writeString(v)


def values_binary(p):
    for v in BINARIES:
        p.writeBinary(v)


def values_list(p):
    write_list(p, TType.I32, [1, 2, 3], p.writeI32)
    write_list(p, TType.STRING, ["a", "é"], p.writeString)
    write_list(
        p, TType.LIST, [[1], [], [-1, 2]], lambda inner: write_list(p, TType.BYTE, inner, p.writeByte)
    )
    write_list(p, TType.DOUBLE, [], p.writeDouble)
    write_list(p, TType.BOOL, [True, False], p.writeBool)


def values_set(p):
    write_set(p, TType.I64, {9, -5, 0}, p.writeI64)
    write_set(p, TType.STRING, {"c", "a", "b"}, p.writeString)
    write_set(p, TType.I16, set(), p.writeI16)


def values_map(p):
    write_map(p, TType.STRING, TType.I32, {"a": 1, "b": -2}, p.writeString, p.writeI32)
    write_map(
        p,
        TType.I32,
        TType.MAP,
        {1: {"t": True}, 2: {}},
        p.writeI32,
        lambda inner: write_map(p, TType.STRING, TType.BOOL, inner, p.writeString, p.writeBool),
    )
    write_map(p, TType.I64, TType.DOUBLE, {}, p.writeI64, p.writeDouble)


def values_nested(p):
    # list<map<string, list<set<i16>>>>
    value = [{"k": [{2, 1}, set()], "j": []}, {}]

    def write_sets(sets):
        write_list(p, TType.SET, sets, lambda s: write_set(p, TType.I16, s, p.writeI16))

    write_list(
        p,
        TType.MAP,
        value,
        lambda m: write_map(p, TType.STRING, TType.LIST, m, p.writeString, write_sets),
    )


def write_inner(p):
    # struct Inner { 1: string label, 2: list<map<i32, list<string>>> rows }
    p.writeStructBegin("Inner")
    p.writeFieldBegin("label", TType.STRING, 1)
    p.writeString("in")
    p.writeFieldEnd()
    p.writeFieldBegin("rows", TType.LIST, 2)
    rows = [{2: [], 1: ["a", "b"]}, {}]
    write_list(
        p,
        TType.MAP,
        rows,
        lambda m: write_map(
            p,
            TType.I32,
            TType.LIST,
            m,
            p.writeI32,
            lambda names: write_list(p, TType.STRING, names, p.writeString),
        ),
    )
    p.writeFieldEnd()
    p.writeFieldStop()
    p.writeStructEnd()


def values_struct(p):
    # struct Everything: one field of every type; field 13 is optional and unset (absent).
    p.writeStructBegin("Everything")
    fields = [
        (1, TType.BOOL, lambda: p.writeBool(True)),
        (2, TType.BYTE, lambda: p.writeByte(-128)),
        (3, TType.I16, lambda: p.writeI16(-2)),
        (4, TType.I32, lambda: p.writeI32(0x12345678)),
        (5, TType.I64, lambda: p.writeI64(-(2**63))),
        (6, TType.DOUBLE, lambda: p.writeDouble(-0.5)),
        (7, TType.STRING, lambda: p.writeString("tëther ✓")),
        (8, TType.STRING, lambda: p.writeBinary(b"\x00\x01\xfe\xff")),
        (9, TType.LIST, lambda: write_list(p, TType.I32, [1, -1, 2**31 - 1], p.writeI32)),
        (10, TType.SET, lambda: write_set(p, TType.STRING, {"b", "a"}, p.writeString)),
        (
            11,
            TType.MAP,
            lambda: write_map(p, TType.STRING, TType.I64, {"y": -1, "x": 1}, p.writeString, p.writeI64),
        ),
        (12, TType.STRUCT, lambda: write_inner(p)),
        (32767, TType.I16, lambda: p.writeI16(7)),
        (-1, TType.I32, lambda: p.writeI32(99)),
    ]
    for fid, ftype, write in fields:
        p.writeFieldBegin("f%d" % fid, ftype, fid)
        write()
        p.writeFieldEnd()
    p.writeFieldStop()
    p.writeStructEnd()


def values_application_exceptions(p):
    # Every standard kind, UNKNOWN (0) to UNSUPPORTED_CLIENT_TYPE (10).
    for kind in range(11):
        TApplicationException(kind, "kind %d" % kind).write(p)


VALUES = [
    ("bool", "true, false", values_bool),
    ("byte", "bytes %s" % BYTES, values_byte),
    ("i16", "i16s %s" % I16S, values_i16),
    ("i32", "i32s %s" % I32S, values_i32),
    ("i64", "i64s %s" % I64S, values_i64),
    ("double", "doubles incl. -0.0, subnormal, max, infinities", values_double),
    ("string", "strings incl. empty, non-ascii, 4-byte utf-8, nul", values_string),
    ("binary", "binaries: empty, 00 ff 80, 0..=255", values_binary),
    ("list", "list<i32>, list<string>, list<list<byte>>, empty list<double>, list<bool>", values_list),
    ("set", "set<i64>, set<string>, empty set<i16>", values_set),
    ("map", "map<string,i32>, map<i32,map<string,bool>>, empty map<i64,double>", values_map),
    ("nested", "list<map<string,list<set<i16>>>>", values_nested),
    ("struct", "struct Everything: every type, nested struct, absent optional, ids 32767 and -1", values_struct),
    ("application_exceptions", "TApplicationException of every kind 0..=10", values_application_exceptions),
]

# ---- messages -----------------------------------------------------------------------------------


def binary_field_struct(fid, value):
    def write(p):
        p.writeStructBegin("s")
        p.writeFieldBegin("f", TType.STRING, fid)
        p.writeBinary(value)
        p.writeFieldEnd()
        p.writeFieldStop()
        p.writeStructEnd()

    return write


def empty_struct(p):
    p.writeStructBegin("s")
    p.writeFieldStop()
    p.writeStructEnd()


def fail_result_declared(p):
    # fail_result { 1: EchoError err } with EchoError { 1: string message }
    p.writeStructBegin("fail_result")
    p.writeFieldBegin("err", TType.STRUCT, 1)
    p.writeStructBegin("EchoError")
    p.writeFieldBegin("message", TType.STRING, 1)
    p.writeString("boom")
    p.writeFieldEnd()
    p.writeFieldStop()
    p.writeStructEnd()
    p.writeFieldEnd()
    p.writeFieldStop()
    p.writeStructEnd()


def unknown_method(p):
    TApplicationException(TApplicationException.UNKNOWN_METHOD, "unknown method echo2").write(p)


MESSAGES = [
    ("echo_call", "echo", TMessageType.CALL, 1, binary_field_struct(1, bytes(range(64)))),
    ("echo_reply", "echo", TMessageType.REPLY, 1, binary_field_struct(0, bytes(range(64)))),
    ("ping_call", "ping", TMessageType.CALL, 2**31 - 1, empty_struct),
    ("ping_reply", "ping", TMessageType.REPLY, -(2**31), empty_struct),
    ("fire_oneway", "fire", TMessageType.ONEWAY, 5, binary_field_struct(1, b"fire")),
    ("fail_reply", "fail", TMessageType.REPLY, 6, fail_result_declared),
    ("multiplexed_call", "Echo:ping", TMessageType.CALL, 3, empty_struct),
    ("exception", "echo2", TMessageType.EXCEPTION, 42, unknown_method),
]


def encode(write, strict=True, framed=False):
    buf = TTransport.TMemoryBuffer()
    trans = TTransport.TFramedTransport(buf) if framed else buf
    proto = TBinaryProtocol.TBinaryProtocol(trans, strictRead=False, strictWrite=strict)
    write(proto)
    if framed:
        trans.flush()
    return buf.getvalue()


def message_writer(name, kind, seqid, body):
    def write(p):
        p.writeMessageBegin(name, kind, seqid)
        body(p)
        p.writeMessageEnd()

    return write


def vectors():
    """Every vector as (file name, description, bytes), in manifest order."""
    out = []
    for name, description, write in VALUES:
        out.append(("value_%s.bin" % name, description, encode(write)))
    kinds = {1: "call", 2: "reply", 3: "exception", 4: "oneway"}
    for name, method, kind, seqid, body in MESSAGES:
        write = message_writer(method, kind, seqid, body)
        for strict in (True, False):
            for framed in (False, True):
                file = "msg_%s_%s_%s.bin" % (
                    name,
                    "strict" if strict else "nonstrict",
                    "framed" if framed else "unframed",
                )
                description = "%s %r seqid %d" % (kinds[kind], method, seqid)
                out.append((file, description, encode(write, strict, framed)))
    return out


def manifest(vecs):
    lines = [
        "# Golden vectors written by scripts/golden.py with Apache Thrift's Python TBinaryProtocol.",
        "# Do not edit: change scripts/golden.py and tests/golden.rs together, then rerun it.",
        "# file  bytes  sha256  what",
    ]
    for file, description, data in vecs:
        digest = hashlib.sha256(data).hexdigest()
        lines.append("%s  %d  %s  %s" % (file, len(data), digest, description))
    return ("\n".join(lines) + "\n").encode()


def main(argv):
    check = "--check" in argv[1:]
    vecs = vectors()
    wanted = {file: data for file, _, data in vecs}
    wanted["MANIFEST"] = manifest(vecs)
    if not check:
        os.makedirs(GOLDEN_DIR, exist_ok=True)
        for file in os.listdir(GOLDEN_DIR):
            if file not in wanted:
                os.remove(os.path.join(GOLDEN_DIR, file))
        for file, data in wanted.items():
            with open(os.path.join(GOLDEN_DIR, file), "wb") as f:
                f.write(data)
        print("golden: wrote %d vectors to tests/golden" % len(vecs))
        return 0
    problems = []
    present = set(os.listdir(GOLDEN_DIR)) if os.path.isdir(GOLDEN_DIR) else set()
    for file, data in wanted.items():
        path = os.path.join(GOLDEN_DIR, file)
        if file not in present:
            problems.append("missing: %s" % file)
            continue
        with open(path, "rb") as f:
            if f.read() != data:
                problems.append("stale: %s" % file)
    for file in sorted(present - set(wanted)):
        problems.append("unexpected: %s" % file)
    if problems:
        for problem in problems:
            print("golden: " + problem)
        print("golden: vectors are not current; run scripts/golden.py and commit tests/golden")
        return 1
    print("golden: %d vectors are current" % len(vecs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
