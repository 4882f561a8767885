include "Buses.thrift"
include "Trains.thrift"

namespace rs transit

union Transporter {
  1: Buses.Bus bus
  2: Trains.Locomotive locomotive
}

service Dispatch {
  Transporter next(1: string route)
}
