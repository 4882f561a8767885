// Found through the include directories (tests/codegen/layout/transit and its services/), as
// Apache's test_recursive layout compiles with -I.
include "CityServices.thrift"
include "Trains.thrift"

namespace rs transit.light

struct Streetcar {
  1: i16 id
  2: Trains.Locomotive locomotive
  3: list<CityServices.Improvement> improvements = []
}
