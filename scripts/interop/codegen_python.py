"""Cross-checks tether's generated code against Apache Thrift's Python library.

    codegen_python.py encode GEN_DIR OUT_DIR   # Python encodes the fixed values -> OUT_DIR/*.bin
    codegen_python.py check GEN_DIR IN_DIR     # Python decodes IN_DIR/*.bin (written by Rust),
                                               # compares with the fixed values, re-encodes

GEN_DIR holds `thrift --gen py -r` output for tests/codegen/kitchen_sink.thrift. The values
mirror `interop_values()` in tests/codegen_kitchen_sink.rs; keep the two in step.
"""

import os
import sys

sys.path.insert(0, sys.argv[2])

from thrift.protocol import TBinaryProtocol  # noqa: E402
from thrift.TSerialization import deserialize, serialize  # noqa: E402

from kitchen_sink import Store  # noqa: E402
from kitchen_sink.ttypes import (  # noqa: E402
    Containers,
    Defaults,
    Everything,
    Invalid,
    NotFound,
    Primitives,
    Status,
    Tree,
    Value,
)
from shared.ttypes import Color, Point, SharedError  # noqa: E402

FACTORY = TBinaryProtocol.TBinaryProtocolFactory()


def everything():
    # Maps are built in ascending key order and sets hold ints or one element, so Python's
    # iteration order matches the sorted order of Rust's BTreeMap/BTreeSet byte for byte.
    return Everything(
        primitives=Primitives(
            flag=True,
            small=-5,
            short_value=-300,
            int_value=70000,
            long_value=-(1 << 40),
            ratio=0.25,
            text="h\u00e9llo",
            blob=bytes([0, 1, 254, 255]),
            type="kind",
            tiny=7,
        ),
        containers=Containers(
            ints=[1, -2, 3],
            nested=[["a"], [], ["b", "c"]],
            statuses={Status.ACTIVE, Status.DELETED},
            points={"p": Point(x=1, y=2), "q": Point(x=-3, y=4)},
            deep=[{5: {"x"}}],
            by_status={Status.INACTIVE: [Point(x=0, y=0), Point(x=9, y=9)]},
            path=[Point(x=1, y=1), Point(x=2, y=2)],
            named={"home": Point(x=10, y=20)},
            blobs=[b"", b"\xff"],
            point_set=set(),
            ratios={0.5},
            by_ratio={-1.0: "minus one"},
        ),
        defaults=Defaults(
            count=3,
            name="named",
            status=Status.INACTIVE,
            primes=[11, 13],
            nickname="nick",
            when=1700000000000,
            origin=Point(x=5, y=6),
            ratio=1.5,
            color=Color.RED,
            tags={"t"},
        ),
        value=Value(
            items=[
                Value(int_value=1),
                Value(float_value=2.5),
                Value(text="three"),
                Value(point=Point(x=4, y=4)),
            ]
        ),
        when=-1,
        color=Color.BLUE,
        tree=Tree(
            label="root",
            children=[Tree(label="child", children=[])],
            left=Tree(label="left", children=[]),
        ),
        values={"i": Value(int_value=-9), "t": Value(text="")},
        status=42,
        error=SharedError(message="shared", code=7),
    )


def values():
    return {
        "everything": everything(),
        "value": Value(items=[Value(int_value=1), Value(items=[])]),
        "tree": everything().tree,
        "get_result_not_found": Store.get_result(
            not_found=NotFound(message="gone", key="k")
        ),
        "get_result_success": Store.get_result(success=everything()),
        "put_result_invalid": Store.put_result(invalid=Invalid(code=3, reasons=["a", "b"])),
        "route_args": Store.route_args(start=Point(x=1, y=2), end=Point(x=3, y=4), steps=5),
    }


def main():
    mode, _, directory = sys.argv[1:4]
    expected = values()
    if mode == "encode":
        os.makedirs(directory, exist_ok=True)
        for name, value in expected.items():
            with open(os.path.join(directory, name + ".bin"), "wb") as f:
                f.write(serialize(value, FACTORY))
        print("python encoded %d values" % len(expected))
        return 0
    failures = 0
    for name, value in expected.items():
        with open(os.path.join(directory, name + ".bin"), "rb") as f:
            data = f.read()
        decoded = deserialize(type(value)(), data, FACTORY)
        if decoded != value:
            print("MISMATCH %s:\n  rust   %r\n  python %r" % (name, decoded, value))
            failures += 1
        elif serialize(decoded, FACTORY) != data:
            print("RE-ENCODE DIFFERS %s" % name)
            failures += 1
    print("python checked %d values from rust, %d failures" % (len(expected), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
