/*
 * Every IDL construct tether supports, compiled into tests/codegen_kitchen_sink.rs and
 * cross-checked against Apache Thrift's Python library (scripts/interop/codegen_python.sh).
 */
namespace rs kitchen_sink
namespace py kitchen_sink
namespace cpp kitchen.sink

include "shared.thrift"
cpp_include "<unordered_map>"

# Typedefs, one a chain.
typedef i64 Timestamp
typedef Timestamp When
typedef list<shared.Point> Path
typedef map<string, shared.Point> (cpp.template = "std::unordered_map") Named

/** Implicit values: 0, 1, then 10, 11. */
enum Status {
  UNKNOWN,
  ACTIVE,
  INACTIVE = 10,
  DELETED
} (py.annotation = "kept")

const bool FLAG = true
const byte SMALL = -8
const i16 SHORT = 1000
const i32 ANSWER = 42;
const i64 BIG = 0x7fffffffffffffff
const i64 NEGATIVE = -9223372036854775808
const double RATIO = 1.25
const double TINY = 1e-10
const string GREETING = "hello \"world\""
const string SINGLE = 'single quoted'
const binary MAGIC = "magic"
const Status DEFAULT_STATUS = Status.ACTIVE
const shared.Color FAVOURITE = shared.Color.BLUE
const i32 LIMIT_COPY = shared.SHARED_LIMIT
const list<i32> PRIMES = [2, 3, 5, 7]
const set<string> TAGS = ["a", "b", "c"]
const map<string, i32> LIMITS = {"low": 1, "high": shared.SHARED_LIMIT}
const shared.Point ORIGIN = {"x": 0, "y": 0}
const map<i32, list<string>> NAMES = {1: ["one"], 2: ["two", "deux"]}
const list<Status> STATUSES = [Status.ACTIVE, 11]
const set<double> HALVES = [0.5, 1.5, -0.5]
const map<double, string> ROUNDED = {0.25: "quarter", 0.75: "three quarters"}

/** Every primitive type. */
struct Primitives {
  1: bool flag
  2: byte small
  3: i16 short_value
  4: i32 int_value
  5: i64 long_value
  6: double ratio
  7: string text
  8: binary blob
  /** `type` is a Rust keyword. */
  9: string type
  10: i8 tiny
}

struct Containers {
  1: list<i32> ints
  2: list<list<string>> nested
  3: set<Status> statuses
  4: map<string, shared.Point> points
  5: list<map<i32, set<string>>> deep
  6: map<Status, list<shared.Point>> by_status
  7: Path path
  8: Named named
  9: list<binary> blobs
  10: set<shared.Point> point_set
  11: set<double> ratios
  12: map<double, string> by_ratio
}

struct Defaults {
  1: i32 count = 7
  2: string name = "unnamed"
  3: Status status = Status.ACTIVE
  4: list<i32> primes = PRIMES
  5: optional string nickname
  6: required When when
  7: shared.Point origin = {"x": 1, "y": -1}
  8: optional double ratio = 0.5
  9: shared.Color color = shared.Color.GREEN
  10: set<string> tags = TAGS
}

/** A value of one of several kinds. */
union Value {
  1: i64 int_value
  2: double float_value
  3: string text
  4: list<Value> items
  5: shared.Point point
}

/** A recursive tree: children through a list, `left` through a box. */
struct Tree {
  1: string label
  2: list<Tree> children
  3: optional Tree left
}

exception NotFound {
  1: string message
  2: optional string key
}

exception Invalid {
  1: i32 code,
  2: list<string> reasons;
}

struct Everything {
  1: required Primitives primitives
  2: Containers containers
  3: Defaults defaults
  4: optional Value value
  5: When when
  6: shared.Color color
  7: optional Tree tree
  8: map<string, Value> values
  9: optional Status status
  10: optional shared.SharedError error
}

/** A store of things. */
service Store extends shared.Base {
  /** Looks a thing up. */
  Everything get(1: string key) throws (1: NotFound not_found, 2: Invalid invalid)
  void put(1: string key, 2: Everything value) throws (1: Invalid invalid)
  oneway void forget(1: string key)
  list<shared.Point> route(1: shared.Point start, 2: shared.Point end, 3: optional i32 steps)
  map<Status, i32> counts()
}

service Admin extends Store {
  void shutdown() (deprecated = "true")
}
