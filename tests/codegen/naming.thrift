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
