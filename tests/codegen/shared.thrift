// Types and a base service that kitchen_sink.thrift includes.
namespace rs shared
namespace py shared

/** A point on a plane. */
struct Point {
  1: required i32 x
  2: required i32 y
}

/**
 * Colors, with explicit values.
 * A second line of docs.
 */
enum Color {
  RED = 1,
  GREEN = 2,
  /** The nicest. */
  BLUE = 4
}

const i32 SHARED_LIMIT = 100

exception SharedError {
  1: string message
  2: i32 code
}

/** The service Store extends. */
service Base {
  /** Says hello. */
  string hello(1: string name)
  oneway void poke()
}
