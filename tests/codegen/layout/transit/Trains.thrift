include "../Vehicles.thrift"

namespace rs transit

struct Locomotive {
  1: string name
  2: Vehicles.Material body
}
