// Same file name as a/Common.thrift: module `common_2`, with a warning.
struct Crew {
  1: list<string> names
}
