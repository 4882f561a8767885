"""The Echo calls every Python interop client makes, and how a result is checked."""

from thrift.Thrift import TApplicationException


def check(what, ok):
    """Prints `ok: what`, or exits with `FAIL: what`."""
    if not ok:
        raise SystemExit(f"FAIL: {what}")
    print(f"ok: {what}")


def exercise(name, client, echo_error):
    """Every Echo method on `client` (an Echo.Client); `echo_error` is the generated EchoError."""
    payload = bytes(range(256)) * 40
    check(f"{name}: echo", client.echo(payload) == payload)
    check(f"{name}: echo empty", client.echo(b"") == b"")
    client.ping()
    check(f"{name}: ping", True)
    try:
        client.fail("error")
        check(f"{name}: fail(error) raises EchoError", False)
    except echo_error as e:
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
