#!/usr/bin/env python3
"""Apache's cross-test server in Python (PyPI's `thrift`, code from `thrift --gen py`): serves
ThriftTest (and, multiplexed, SecondService) on 127.0.0.1 as Apache's test/ThriftTest.thrift
specifies. Prints `listening on 127.0.0.1:PORT` once it accepts (also for --port 0) and serves
until killed; one thread per connection.

    cross_server.py --gen DIR --port 0 --protocol binary --transport framed
"""

import sys
import time

import cross_common

# testOneway sleeps as asked, up to this: clients ask for 1 s.
MAX_ONEWAY_SLEEP_S = 3


def handlers():
    from thrift.Thrift import TException
    from ThriftTest.ttypes import Insanity, Numberz, Xception, Xception2, Xtruct

    class ThriftTestHandler:
        def testVoid(self):
            pass

        def testString(self, thing):
            return thing

        def testBool(self, thing):
            return thing

        def testByte(self, thing):
            return thing

        def testI32(self, thing):
            return thing

        def testI64(self, thing):
            return thing

        def testDouble(self, thing):
            return thing

        def testBinary(self, thing):
            return thing

        def testStruct(self, thing):
            return thing

        def testNest(self, thing):
            return thing

        def testMap(self, thing):
            return thing

        def testStringMap(self, thing):
            return thing

        def testSet(self, thing):
            return thing

        def testList(self, thing):
            return thing

        def testEnum(self, thing):
            return thing

        def testTypedef(self, thing):
            return thing

        def testMapMap(self, hello):
            return {-4: {-4: -4, -3: -3, -2: -2, -1: -1}, 4: {1: 1, 2: 2, 3: 3, 4: 4}}

        def testInsanity(self, argument):
            return {1: {Numberz.TWO: argument, Numberz.THREE: argument},
                    2: {Numberz.SIX: Insanity()}}

        def testMulti(self, arg0, arg1, arg2, arg3, arg4, arg5):
            return Xtruct(string_thing="Hello2", byte_thing=arg0, i32_thing=arg1, i64_thing=arg2)

        def testException(self, arg):
            if arg == "Xception":
                raise Xception(errorCode=1001, message=arg)
            if arg == "TException":
                # Not declared: the processor answers with a TApplicationException.
                raise TException(message="This is a TException")

        def testMultiException(self, arg0, arg1):
            if arg0 == "Xception":
                raise Xception(errorCode=1001, message="This is an Xception")
            if arg0 == "Xception2":
                raise Xception2(errorCode=2002,
                                struct_thing=Xtruct(string_thing="This is an Xception2"))
            return Xtruct(string_thing=arg1)

        def testOneway(self, secondsToSleep):
            time.sleep(min(max(secondsToSleep, 0), MAX_ONEWAY_SLEEP_S))

    class SecondServiceHandler:
        def secondtestString(self, thing):
            return 'testString("%s")' % thing

    return ThriftTestHandler(), SecondServiceHandler()


class ListenOnce:
    """Mixin for TServerSocket: bind once, so the port 0 picked before `serve` is the one served."""

    def listen(self):
        if self.handle is None:
            super().listen()


def main():
    flags = cross_common.parse_flags(__doc__, client=False)
    from thrift.TMultiplexedProcessor import TMultiplexedProcessor
    from thrift.server import TServer
    from thrift.transport import TSocket
    from ThriftTest import SecondService, ThriftTest

    test_handler, second_handler = handlers()
    if cross_common.multiplexed(flags.protocol):
        processor = TMultiplexedProcessor()
        processor.registerProcessor("ThriftTest", ThriftTest.Processor(test_handler))
        processor.registerProcessor("SecondService", SecondService.Processor(second_handler))
    else:
        processor = ThriftTest.Processor(test_handler)

    class ServerSocket(ListenOnce, TSocket.TServerSocket):
        pass

    socket = ServerSocket(host="127.0.0.1", port=flags.port)
    socket.listen()
    port = socket.handle.getsockname()[1]
    server = TServer.TThreadedServer(
        processor,
        socket,
        cross_common.transport_factory(flags.transport),
        cross_common.protocol_factory(flags.protocol, server=True),
        daemon=True,
    )
    print(f"listening on 127.0.0.1:{port}", flush=True)
    server.serve()


if __name__ == "__main__":
    sys.exit(main())
