// Names that need care in Rust, and doc comments in every position.

/// A struct documented with `///` lines,
/// two of them.
struct camelStruct {
  /** The user's id. */
  1: i64 userId,
  2: string HTTPHeader,
  3: bool self,
  4: list<string> match,
  5: optional i32 r,
  6: optional i32 id,
  7: optional i32 ttype,
}

enum lowerEnum {
  firstValue,
  SecondValue = 5,
  THIRD_VALUE
}

/** A service with snake and camel method names. */
service nameService {
  /** Gets by id. */
  camelStruct getById(1: i64 userId)
  void do_it(1: lowerEnum which)
}

/** Field names that collide once converted to Rust. */
struct Clashes {
  1: bool theEdgeCase
  2: bool TheEdgeCase
  3: bool the_edge_case
}

union Tricky {
  1: bool tricky
  2: i32 Tricky
}

exception Problem { 1: string message }

service clashService extends nameService {
  Tricky pick(1: Clashes clashes) throws (1: Problem problem, 2: Problem Problem)
  /** Argument names the processor uses itself; method names the client has. */
  void new(1: i32 ctx, 2: string handler, 3: i32 out, 4: i32 args, 5: i32 header)
  i32 channel()
}

/** Types named like what generated code uses unqualified. */
struct Result { 1: optional string Option }
enum Default { None, Some, ALL }
const i32 Vec = 3
typedef string String
exception Box { 1: Result result }
service std {
  Result get(1: String s) throws (1: Box e)
}
