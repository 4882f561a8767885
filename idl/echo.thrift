// The service tether ships: a load-test and conformance target.
// Other tools (tether bench, the benchmark anchors, interop scripts) depend on these names.
namespace rs echo
namespace py echo

exception EchoError { 1: string message }

service Echo {
  binary echo(1: binary payload)            // returns payload unchanged
  void ping()
  void sleep(1: i32 millis)                 // sleeps, then returns (for timeout/drain tests)
  oneway void fire(1: binary payload)       // no reply
  string fail(1: string mode) throws (1: EchoError err)
    // mode "error": throws EchoError; mode "panic": the handler panics; else returns mode
}
