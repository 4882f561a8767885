include "../transit/light/Streetcars.thrift"
include "../a/Common.thrift"
include "../b/Common.thrift"

namespace rs maintenance

/** Two includes named Common.thrift from different directories: both prefixes `Common`. */
struct Job {
  1: Streetcars.Streetcar car
  2: Common.Shift shift
  3: Common.Crew crew
}

service Facility {
  Job schedule(1: Streetcars.Streetcar car)
}
