"""Apache Thrift's Python client against `tether serve`: framed and buffered transports.

Usage: server_python.py GENERATED_DIR PORT
Exits non-zero on the first wrong result.
"""
import sys

sys.path.insert(0, sys.argv[1])
port = int(sys.argv[2])

from thrift.protocol import TBinaryProtocol, TMultiplexedProtocol  # noqa: E402
from thrift.transport import TSocket, TTransport  # noqa: E402
from thrift.Thrift import TApplicationException  # noqa: E402

from echo import Echo  # noqa: E402
from echo.ttypes import EchoError  # noqa: E402


def check(what, ok):
    if not ok:
        raise SystemExit(f"FAIL: {what}")
    print(f"ok: {what}")


def run(name, wrap, multiplexed=False):
    sock = TSocket.TSocket("127.0.0.1", port)
    sock.setTimeout(5000)
    transport = wrap(sock)
    protocol = TBinaryProtocol.TBinaryProtocol(transport)
    if multiplexed:
        # Method names go out as "Echo:echo", Apache's TMultiplexedProtocol.
        protocol = TMultiplexedProtocol.TMultiplexedProtocol(protocol, "Echo")
    client = Echo.Client(protocol)
    transport.open()
    try:
        payload = bytes(range(256)) * 40
        check(f"{name}: echo", client.echo(payload) == payload)
        check(f"{name}: echo empty", client.echo(b"") == b"")
        client.ping()
        check(f"{name}: ping", True)
        try:
            client.fail("error")
            check(f"{name}: fail(error) raises EchoError", False)
        except EchoError as e:
            check(f"{name}: fail(error) raises EchoError", isinstance(e.message, str))
        try:
            client.fail("panic")
            check(f"{name}: fail(panic) raises TApplicationException", False)
        except TApplicationException as e:
            check(
                f"{name}: fail(panic) raises INTERNAL_ERROR",
                e.type == TApplicationException.INTERNAL_ERROR,
            )
        check(f"{name}: fail(x) returns x", client.fail("x") == "x")
        client.fire(b"and forget")
        client.ping()
        check(f"{name}: fire then ping", True)
        client.sleep(10)
        check(f"{name}: sleep", True)
    finally:
        transport.close()


run("framed", TTransport.TFramedTransport)
run("buffered", TTransport.TBufferedTransport)
run("framed multiplexed", TTransport.TFramedTransport, multiplexed=True)
print("python interop: all passed")
