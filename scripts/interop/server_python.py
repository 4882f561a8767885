"""Apache Thrift's Python client against `tether serve`: framed and buffered transports.

Usage: server_python.py GENERATED_DIR PORT
Exits non-zero on the first wrong result.
"""
import os
import sys

sys.path.insert(0, sys.argv[1])
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
port = int(sys.argv[2])

from thrift.protocol import TBinaryProtocol, TMultiplexedProtocol  # noqa: E402
from thrift.transport import TSocket, TTransport  # noqa: E402

from echo_calls import check, exercise  # noqa: E402
from echo import Echo  # noqa: E402
from echo.ttypes import EchoError  # noqa: E402


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
        exercise(name, client, EchoError)
        client.sleep(10)
        check(f"{name}: sleep", True)
    finally:
        transport.close()


run("framed", TTransport.TFramedTransport)
run("buffered", TTransport.TBufferedTransport)
run("framed multiplexed", TTransport.TFramedTransport, multiplexed=True)
print("python interop: all passed")
