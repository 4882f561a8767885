#!/usr/bin/env python3
"""Apache's cross-test client in Python (PyPI's `thrift`, code from `thrift --gen py`): calls
every ThriftTest method (and, multiplexed, SecondService) on the server at --host/--port and
checks each reply as Apache's test/ThriftTest.thrift specifies. Exits 0 when every check passed,
1 otherwise, listing each failure. Every socket operation times out after 5 s.

    cross_client.py --gen DIR --host 127.0.0.1 --port N --protocol binary --transport framed
"""

import sys
import time

import cross_common

SOCKET_TIMEOUT_MS = 5000
# testOneway(1) must return without waiting for the server's 1 s sleep; Apache's clients allow
# up to 3 s on a slow machine.
ONEWAY_LIMIT_S = 3.0


def main():
    flags = cross_common.parse_flags(__doc__, client=True)
    from thrift.Thrift import TApplicationException
    from thrift.protocol.TMultiplexedProtocol import TMultiplexedProtocol
    from thrift.transport import TSocket
    from ThriftTest import SecondService, ThriftTest
    from ThriftTest.ttypes import Insanity, Numberz, Xception, Xception2, Xtruct, Xtruct2

    socket = TSocket.TSocket(flags.host, flags.port)
    socket.setTimeout(SOCKET_TIMEOUT_MS)
    transport = cross_common.transport_factory(flags.transport).getTransport(socket)
    protocol = cross_common.protocol_factory(flags.protocol, server=False).getProtocol(transport)
    if cross_common.multiplexed(flags.protocol):
        client = ThriftTest.Client(TMultiplexedProtocol(protocol, "ThriftTest"))
        second = SecondService.Client(TMultiplexedProtocol(protocol, "SecondService"))
    else:
        client, second = ThriftTest.Client(protocol), None
    transport.open()

    failures = []
    count = 0

    def expect(call, got, want):
        nonlocal count
        count += 1
        if got != want:
            failures.append(f"{call}: returned {got!r}, expected {want!r}")

    def raises(call, thunk, exception_type, check=lambda e: True):
        nonlocal count
        count += 1
        try:
            got = thunk()
        except exception_type as e:
            if not check(e):
                failures.append(f"{call}: raised {e!r}, not as specified")
            return
        except Exception as e:  # noqa: BLE001 - any other failure is a failed check
            failures.append(f"{call}: raised {e!r}, expected {exception_type.__name__}")
            return
        failures.append(f"{call}: returned {got!r}, expected {exception_type.__name__}")

    def run(call, thunk, want):
        nonlocal count
        try:
            got = thunk()
        except Exception as e:  # noqa: BLE001
            count += 1
            failures.append(f"{call}: raised {e!r}")
            return
        expect(call, got, want)

    # Base types.
    run("testVoid()", client.testVoid, None)
    for thing in ["Test", "", "Γειά σου, κόσμε — 世界 🌍"]:
        run(f"testString({thing!r})", lambda: client.testString(thing), thing)
    for thing in [True, False]:
        run(f"testBool({thing})", lambda: client.testBool(thing), thing)
    for thing in [1, -1, -128, 127]:
        run(f"testByte({thing})", lambda: client.testByte(thing), thing)
    for thing in [-1, 0, -(2**31), 2**31 - 1]:
        run(f"testI32({thing})", lambda: client.testI32(thing), thing)
    for thing in [-34359738368, 0, -(2**63), 2**63 - 1]:
        run(f"testI64({thing})", lambda: client.testI64(thing), thing)
    for thing in [-5.2098523, -0.000341012439638598279, 1.7976931348623157e308]:
        run(f"testDouble({thing})", lambda: client.testDouble(thing), thing)
    binary = bytes(range(256))
    run("testBinary(0..=255)", lambda: client.testBinary(binary), binary)
    run("testBinary(empty)", lambda: client.testBinary(b""), b"")

    # Structs.
    xtruct = Xtruct(string_thing="Zero", byte_thing=1, i32_thing=-3, i64_thing=-5)
    run("testStruct", lambda: client.testStruct(xtruct), xtruct)
    nest = Xtruct2(byte_thing=1, struct_thing=xtruct, i32_thing=5)
    run("testNest", lambda: client.testNest(nest), nest)
    argument = Insanity(
        userMap={Numberz.FIVE: 5, Numberz.EIGHT: 8},
        xtructs=[Xtruct("Goodbye4", 4, 4, 4), Xtruct("Hello2", 2, 2, 2)],
    )
    try:
        insane = client.testInsanity(argument)
        expect("testInsanity keys", sorted(insane), [1, 2])
        expect("testInsanity[1]", insane.get(1), {Numberz.TWO: argument, Numberz.THREE: argument})
        empty = insane.get(2, {}).get(Numberz.SIX)
        # An empty Insanity: unset (None) or empty fields, as the server's language writes them.
        count += 1
        if empty is None or empty.userMap or empty.xtructs:
            failures.append(f"testInsanity[2][SIX]: {empty!r}, expected an empty Insanity")
    except Exception as e:  # noqa: BLE001
        count += 1
        failures.append(f"testInsanity: raised {e!r}")
    run("testMulti", lambda: client.testMulti(9, 11, 13, {1: "one"}, Numberz.FIVE, 7),
        Xtruct(string_thing="Hello2", byte_thing=9, i32_thing=11, i64_thing=13))

    # Containers.
    mapping = {n: n - 10 for n in range(5)}
    run("testMap", lambda: client.testMap(mapping), mapping)
    string_map = {"a": "2", "a b": "blah", "some": "thing", "": "empty key"}
    run("testStringMap", lambda: client.testStringMap(string_map), string_map)
    run("testSet", lambda: client.testSet(set(range(-2, 3))), set(range(-2, 3)))
    run("testList", lambda: client.testList([2, 1, 0, -1, -2]), [2, 1, 0, -1, -2])
    run("testList(empty)", lambda: client.testList([]), [])
    for thing in [Numberz.ONE, Numberz.TWO, Numberz.EIGHT]:
        run(f"testEnum({thing})", lambda: client.testEnum(thing), thing)
    run("testTypedef", lambda: client.testTypedef(309858235082523), 309858235082523)
    run("testMapMap(1)", lambda: client.testMapMap(1),
        {-4: {-4: -4, -3: -3, -2: -2, -1: -1}, 4: {1: 1, 2: 2, 3: 3, 4: 4}})

    # Exceptions.
    raises('testException("Xception")', lambda: client.testException("Xception"), Xception,
           lambda e: e.errorCode == 1001 and e.message == "Xception")
    raises('testException("TException")', lambda: client.testException("TException"),
           TApplicationException)
    run('testException("success")', lambda: client.testException("success"), None)
    raises('testMultiException("Xception")',
           lambda: client.testMultiException("Xception", "ignored"), Xception,
           lambda e: e.errorCode == 1001 and e.message == "This is an Xception")
    raises('testMultiException("Xception2")',
           lambda: client.testMultiException("Xception2", "ignored"), Xception2,
           lambda e: e.errorCode == 2002 and e.struct_thing.string_thing == "This is an Xception2")
    try:
        got = client.testMultiException("success", "foobar")
        expect('testMultiException("success")', got.string_thing, "foobar")
    except Exception as e:  # noqa: BLE001
        count += 1
        failures.append(f'testMultiException("success"): raised {e!r}')

    # Oneway: returns at once, and the connection carries on after it.
    started = time.monotonic()
    try:
        client.testOneway(1)
        took = time.monotonic() - started
        count += 1
        if took >= ONEWAY_LIMIT_S:
            failures.append(f"testOneway(1): took {took:.2f} s (limit {ONEWAY_LIMIT_S} s)")
    except Exception as e:  # noqa: BLE001
        count += 1
        failures.append(f"testOneway(1): raised {e!r}")
    run("testI32 after testOneway", lambda: client.testI32(42), 42)

    if second is not None:
        run("SecondService.secondtestString", lambda: second.secondtestString("foo"),
            'testString("foo")')
        run("ThriftTest after SecondService", lambda: client.testString("bar"), "bar")

    transport.close()
    for failure in failures:
        print(f"cross_client.py: FAIL {failure}", file=sys.stderr)
    if failures:
        print(f"cross_client.py: {len(failures)} of {count} checks failed", file=sys.stderr)
        return 1
    print(f"cross_client.py: {count} checks passed ({flags.protocol} {flags.transport})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
