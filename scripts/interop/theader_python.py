#!/usr/bin/env python3
"""Apache Thrift's Python clients against `tether serve`: THeader (THeaderProtocol over
THeaderTransport, binary or compact inside) with every Echo method, zlib both ways and info
headers; THeader inside TFramedTransport and TCompactProtocol over TFramedTransport and
TBufferedTransport (detected); and `:drain` on the THeader replies once the server is told to
stop.

Usage: theader_python.py GENERATED_DIR PORT SERVER_PID TRANSPORT PROTOCOL...
TRANSPORT is the server's --transport: auto (then THeader in a frame and compact framed and
buffered run too) or
header. PROTOCOL is binary or compact (inside the THeader frames). The last step sends SIGTERM
to SERVER_PID (started with --drain-announce) and expects `:drain` on the next reply.
Exits non-zero on the first wrong result.
"""
import os
import signal
import sys
import time

sys.path.insert(0, sys.argv[1])
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
port = int(sys.argv[2])
server_pid = int(sys.argv[3])
server_transport = sys.argv[4]
protocols = sys.argv[5:]

from thrift.protocol.TCompactProtocol import TCompactProtocol  # noqa: E402
from thrift.protocol.THeaderProtocol import THeaderProtocol  # noqa: E402
from thrift.transport import TSocket, TTransport  # noqa: E402
from thrift.transport.THeaderTransport import (  # noqa: E402
    THeaderClientType,
    THeaderSubprotocolID,
    THeaderTransformID,
)

from echo_calls import check, exercise  # noqa: E402
from echo import Echo  # noqa: E402
from echo.ttypes import EchoError  # noqa: E402

SUBPROTOCOLS = {"binary": THeaderSubprotocolID.BINARY, "compact": THeaderSubprotocolID.COMPACT}


def connect(subprotocol, framed=False):
    """THeaderProtocol over the socket, or (framed) over a TFramedTransport around it, as
    Apache's test programs layer it for `--protocol header --transport framed`."""
    sock = TSocket.TSocket("127.0.0.1", port)
    sock.setTimeout(5000)
    under = TTransport.TFramedTransport(sock) if framed else sock
    protocol = THeaderProtocol(under, (THeaderClientType.HEADERS,), SUBPROTOCOLS[subprotocol])
    under.open()
    return under, protocol, Echo.Client(protocol)


def run(subprotocol, zlib, framed=False):
    name = f"theader {subprotocol}{' zlib' if zlib else ''}{' in a frame' if framed else ''}"
    sock, protocol, client = connect(subprotocol, framed)
    if zlib:
        protocol.add_transform(THeaderTransformID.ZLIB)
    protocol.set_header(b"x-request-id", b"42")
    try:
        exercise(name, client, EchoError)
        check(f"{name}: no :drain while serving", b":drain" not in protocol.get_headers())
    finally:
        sock.close()


def run_compact(framing):
    name = f"compact {framing}"
    sock = TSocket.TSocket("127.0.0.1", port)
    sock.setTimeout(5000)
    if framing == "framed":
        transport = TTransport.TFramedTransport(sock)
    else:
        transport = TTransport.TBufferedTransport(sock)
    client = Echo.Client(TCompactProtocol(transport))
    transport.open()
    try:
        exercise(name, client, EchoError)
    finally:
        transport.close()


def drain(subprotocol):
    sock, protocol, client = connect(subprotocol)
    try:
        client.ping()
        check(f"drain {subprotocol}: no :drain before SIGTERM", b":drain" not in protocol.get_headers())
        os.kill(server_pid, signal.SIGTERM)
        # The signal thread requests the shutdown a moment later; the announce keeps serving.
        deadline = time.monotonic() + 2
        while True:
            client.ping()
            if protocol.get_headers().get(b":drain") == b"true":
                break
            if time.monotonic() > deadline:
                check(f"drain {subprotocol}: :drain within 2 s of SIGTERM", False)
            time.sleep(0.01)
        check(f"drain {subprotocol}: replies carry :drain during the announce", True)
    finally:
        sock.close()


for subprotocol in protocols:
    run(subprotocol, zlib=False)
    run(subprotocol, zlib=True)
if server_transport == "auto":
    for subprotocol in protocols:
        run(subprotocol, zlib=False, framed=True)
        run(subprotocol, zlib=True, framed=True)
    run_compact("framed")
    run_compact("buffered")
drain(protocols[0])
