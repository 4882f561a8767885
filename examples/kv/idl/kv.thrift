namespace rs kv

/** A stored value and its version (1 for a new key, then one more per put). */
struct Entry {
  1: required string key
  2: binary value
  3: i64 version
}

/** The key is not stored. */
exception NotFound {
  1: string key
}

/** A conditional put found another version than the one expected. */
exception Conflict {
  1: string key
  2: i64 expected
  3: i64 actual
}

service KeyValue {
  /** The entry stored under `key`. */
  Entry get(1: string key) throws (1: NotFound not_found)

  /**
   * Stores `value` under `key` and returns the new version. With `expected_version`, only
   * when the stored version is that one (0: the key must be new).
   */
  i64 put(1: string key, 2: binary value, 3: optional i64 expected_version)
    throws (1: Conflict conflict)

  /** Removes `key`; whether it was there. */
  bool remove(1: string key)

  /** Up to `limit` keys starting with `prefix`, in order. */
  list<string> keys(1: string prefix, 2: i32 limit)

  /** Records a read of `key` without waiting for an answer. */
  oneway void touch(1: string key)

  /** Counters: keys stored, puts, touches. */
  map<string, i64> stats()
}
