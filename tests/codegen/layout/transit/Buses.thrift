// Three files in `namespace rs transit`: sibling modules transit::buses, ::trains,
// ::transporters.
include "../Vehicles.thrift"

namespace rs transit

struct Bus {
  1: string route
  2: list<Vehicles.Wheel> wheels
}
