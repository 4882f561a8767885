#!/usr/bin/env python3
"""Apache Thrift's own Python server for idl/echo.thrift, for tether's client to call.

usage: client_python.py GEN_PY_DIR simple|threaded|multiplexed framed|buffered|header

`multiplexed` is a TThreadedServer whose TMultiplexedProcessor serves the handler as "Echo"
(calls must be named "Echo:method"; replies come back under the plain name).

GEN_PY_DIR holds the output of `thrift --gen py idl/echo.thrift`. Prints
`listening on 127.0.0.1:PORT` once it accepts connections, then serves until killed.
"""

import logging
import sys
import time

sys.path.insert(0, sys.argv[1])

from echo import Echo  # noqa: E402
from echo.ttypes import EchoError  # noqa: E402
from thrift.protocol import TBinaryProtocol  # noqa: E402
from thrift.protocol.THeaderProtocol import THeaderProtocolFactory  # noqa: E402
from thrift.TMultiplexedProcessor import TMultiplexedProcessor  # noqa: E402
from thrift.server import TServer  # noqa: E402
from thrift.transport import TSocket, TTransport  # noqa: E402


class Handler:
    def echo(self, payload):
        return payload

    def ping(self):
        pass

    def sleep(self, millis):
        time.sleep(millis / 1000.0)

    def fire(self, payload):
        pass

    def fail(self, mode):
        if mode == "error":
            raise EchoError(message="failed on request")
        if mode == "panic":
            raise RuntimeError("handler blew up")
        return mode


class AnnouncingServerSocket(TSocket.TServerSocket):
    """Binds port 0 and says which port it got, once it listens."""

    def listen(self):
        super().listen()
        port = self.handle.getsockname()[1]
        print("listening on 127.0.0.1:%d" % port, flush=True)


def main():
    # fail("panic") raises on purpose; Apache's processor logs each with a traceback.
    logging.basicConfig(level=logging.CRITICAL)
    kind, framing = sys.argv[2], sys.argv[3]
    transport = AnnouncingServerSocket(host="127.0.0.1", port=0)
    pfactory = TBinaryProtocol.TBinaryProtocolFactory()
    if framing == "framed":
        tfactory = TTransport.TFramedTransportFactory()
    elif framing == "header":
        # THeaderProtocol does its own framing over the raw socket.
        tfactory = TTransport.TTransportFactoryBase()
        pfactory = THeaderProtocolFactory()
    else:
        tfactory = TTransport.TBufferedTransportFactory()
    processor = Echo.Processor(Handler())
    if kind == "multiplexed":
        multiplexed = TMultiplexedProcessor()
        multiplexed.registerProcessor("Echo", processor)
        processor = multiplexed
    if kind == "simple":
        server = TServer.TSimpleServer(processor, transport, tfactory, pfactory)
    else:
        server = TServer.TThreadedServer(processor, transport, tfactory, pfactory, daemon=True)
    server.serve()


if __name__ == "__main__":
    main()
