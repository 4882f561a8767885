// Shapes Apache's compiler accepts that tether once got wrong, one per definition; compiled
// and exercised by tests/codegen_fixes.rs.
namespace rs fixes

/** A union of two. */
union Choice {
  1: i32 number
  2: string text
}

/** A union with no fields: it has no values. */
union Nothing {}

struct HoldsChoice {
  /** Default requiredness and no Default in Rust: `None` when absent. */
  1: Choice plain
  2: optional Choice maybe
  3: required Choice must
  4: i32 after
}

/** A struct holding itself by value: the field is an `Option<Box<_>>`. */
struct Chain {
  1: i32 value
  2: Chain next
}

/** Ids as Apache's compiler gives them: -1, 3, -2, -3. */
struct Renumbered {
  i32 first
  3: i32 second
  0: i32 zero
  -1: i32 minus_one
}

/** An explicit negative id and then none: -1 and -2, not a duplicate. */
struct NegativeThenImplicit {
  -1: i32 a
  i32 b
}

struct Send { 1: i32 x }
struct Sync { 1: i32 y }
struct From { 1: Send send, 2: Sync sync }

service Helpers {
  i32 add(1: i32 write_reply, 2: i32 missing_result)
  oneway void note(1: string write_reply)
  From echo_from(1: From value)
}
