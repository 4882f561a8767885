// `uuid` (type id 16) in every place a type goes: fields, containers, map keys, defaults,
// constants and a service. Apache's compiler 0.17 (Debian's) does not know uuid; Apache
// Thrift 0.19 and later do.

const uuid EXAMPLE = "00112233-4455-6677-8899-aabbccddeeff"

/** The struct scripts/golden_protocols.py writes with PyPI's thrift (writeUuid). */
struct WithUuid {
  1: uuid id
  2: bool flag
  20: uuid other
}

struct Uuids {
  1: required uuid id
  2: optional uuid parent
  3: list<uuid> ids
  4: set<uuid> tags
  5: map<uuid, string> names
  6: uuid fallback = "00112233-4455-6677-8899-aabbccddeeff"
}

service Registry {
  uuid lookup(1: uuid id)
}
