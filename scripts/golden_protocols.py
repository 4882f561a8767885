#!/usr/bin/env python3
"""Golden vectors beyond binary: Apache Thrift's Python TCompactProtocol, THeaderTransport and uuid.

    scripts/golden_protocols.py           writes tests/golden_protocols/*.bin and its MANIFEST
    scripts/golden_protocols.py --check   fails unless the checked-in vectors are what it writes

The values and messages are scripts/golden.py's (imported from it), written with the compact
protocol; uuid values are written with both protocols; THeader frames wrap messages in binary and
compact, with info headers and with the zlib transform. tests/golden_protocols.rs checks them
against tether byte for byte and decodes every vector back. Change both together.
"""

import hashlib
import os
import sys
import uuid
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import golden  # noqa: E402  (scripts/golden.py: the shared values and messages)
from thrift.protocol import TBinaryProtocol, TCompactProtocol  # noqa: E402
from thrift.protocol.TProtocol import TType  # noqa: E402
from thrift.Thrift import TMessageType  # noqa: E402
from thrift.transport import THeaderTransport, TTransport  # noqa: E402

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden_protocols")

UUIDS = [
    uuid.UUID(int=0),
    uuid.UUID("00112233-4455-6677-8899-aabbccddeeff"),
    uuid.UUID(int=2**128 - 1),
]


def values_uuid(p):
    for v in UUIDS:
        p.writeUuid(v)
    golden.write_list(p, TType.UUID, UUIDS, p.writeUuid)
    # struct { 1: uuid id, 2: bool flag, 20: uuid other } with a bool between, for compact's deltas.
    p.writeStructBegin("WithUuid")
    p.writeFieldBegin("id", TType.UUID, 1)
    p.writeUuid(UUIDS[1])
    p.writeFieldEnd()
    p.writeFieldBegin("flag", TType.BOOL, 2)
    p.writeBool(True)
    p.writeFieldEnd()
    p.writeFieldBegin("other", TType.UUID, 20)
    p.writeUuid(UUIDS[2])
    p.writeFieldEnd()
    p.writeFieldStop()
    p.writeStructEnd()


def compact(trans):
    return TCompactProtocol.TCompactProtocol(trans)


def compact_values(write):
    """Top-level values through TCompactProtocol, which checks that values are written inside
    a message or container; the container state lets bare values (bools as element bytes) in."""
    buf = TTransport.TMemoryBuffer()
    proto = compact(buf)
    proto.state = TCompactProtocol.CONTAINER_WRITE
    write(proto)
    return buf.getvalue()


def binary_values(write):
    buf = TTransport.TMemoryBuffer()
    write(TBinaryProtocol.TBinaryProtocol(buf))
    return buf.getvalue()


def compact_message(write, framed):
    buf = TTransport.TMemoryBuffer()
    trans = TTransport.TFramedTransport(buf) if framed else buf
    write(compact(trans))
    if framed:
        trans.flush()
    return buf.getvalue()


# (file stem, message name in golden.MESSAGES, protocol, zlib, info headers, THeader seqid)
HEADER_FRAMES = [
    ("echo_call_binary", "echo_call", "binary", False, [(b":drain", b"1"), (b"trace", b"abc")], 1),
    ("echo_call_compact", "echo_call", "compact", False, [], 2),
    ("echo_reply_binary_zlib", "echo_reply", "binary", True, [(b":drain", b"")], 3),
    ("exception_compact_zlib", "exception", "compact", True, [(b"k\x00", b"\xff\xfe")], -4),
]

PROTOCOL_IDS = {
    "binary": THeaderTransport.THeaderSubprotocolID.BINARY,
    "compact": THeaderTransport.THeaderSubprotocolID.COMPACT,
}


def header_frame(message, protocol, zlib, info, seqid):
    buf = TTransport.TMemoryBuffer()
    trans = THeaderTransport.THeaderTransport(
        buf, [THeaderTransport.THeaderClientType.HEADERS], default_protocol=PROTOCOL_IDS[protocol]
    )
    trans.sequence_id = seqid
    for key, value in info:
        trans.set_header(key, value)
    if zlib:
        trans.add_transform(THeaderTransport.THeaderTransformID.ZLIB)
    if protocol == "binary":
        proto = TBinaryProtocol.TBinaryProtocol(trans)
    else:
        proto = compact(trans)
    message(proto)
    trans.flush()
    return buf.getvalue()


def vectors():
    """Every vector as (file name, description, bytes), in manifest order."""
    out = []
    for name, description, write in golden.VALUES:
        out.append(("compact_value_%s.bin" % name, "compact " + description, compact_values(write)))
    uuid_description = "uuids nil, 00112233-..., all ones; list<uuid>; struct with uuid fields"
    out.append(("compact_value_uuid.bin", "compact " + uuid_description, compact_values(values_uuid)))
    out.append(("binary_value_uuid.bin", "binary " + uuid_description, binary_values(values_uuid)))
    kinds = {1: "call", 2: "reply", 3: "exception", 4: "oneway"}
    messages = {}
    for name, method, kind, seqid, body in golden.MESSAGES:
        write = golden.message_writer(method, kind, seqid, body)
        messages[name] = write
        for framed in (False, True):
            file = "compact_msg_%s_%s.bin" % (name, "framed" if framed else "unframed")
            description = "compact %s %r seqid %d" % (kinds[kind], method, seqid)
            out.append((file, description, compact_message(write, framed)))
    for stem, message, protocol, zlib, info, seqid in HEADER_FRAMES:
        description = "theader %s %s%s, %d info headers, seqid %d" % (
            message,
            protocol,
            " zlib" if zlib else "",
            len(info),
            seqid,
        )
        out.append(("header_%s.bin" % stem, description, header_frame(messages[message], protocol, zlib, info, seqid)))
    return out


def manifest(vecs):
    lines = [
        "# Golden vectors written by scripts/golden_protocols.py with Apache Thrift's Python library",
        "# (TCompactProtocol, THeaderTransport, uuid). Do not edit: change the script and",
        "# tests/golden_protocols.rs together, then rerun it.",
        "# file  bytes  sha256  what",
    ]
    for file, description, data in vecs:
        digest = hashlib.sha256(data).hexdigest()
        lines.append("%s  %d  %s  %s" % (file, len(data), digest, description))
    return ("\n".join(lines) + "\n").encode()


def same_vector(file, ours, theirs):
    """Byte equality, except that zlib output may differ between zlib builds (zlib-ng, a new
    release): a zlib frame is current when its headers match and its payload inflates the same."""
    if ours == theirs:
        return True
    if not (file.startswith("header_") and "zlib" in file):
        return False

    def split(frame):
        end = 14 + int.from_bytes(frame[12:14], "big") * 4
        return frame[4:end], zlib.decompress(frame[end:])

    try:
        return split(ours) == split(theirs)
    except zlib.error:
        return False


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
        print("golden_protocols: wrote %d vectors to tests/golden_protocols" % len(vecs))
        return 0
    problems = []
    present = set(os.listdir(GOLDEN_DIR)) if os.path.isdir(GOLDEN_DIR) else set()
    for file, data in wanted.items():
        if file not in present:
            problems.append("missing: %s" % file)
            continue
        with open(os.path.join(GOLDEN_DIR, file), "rb") as f:
            if not same_vector(file, data, f.read()):
                problems.append("stale: %s" % file)
    for file in sorted(present - set(wanted)):
        problems.append("unexpected: %s" % file)
    if problems:
        for problem in problems:
            print("golden_protocols: " + problem)
        print("golden_protocols: vectors are not current; run scripts/golden_protocols.py and commit")
        return 1
    print("golden_protocols: %d vectors are current" % len(vecs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
