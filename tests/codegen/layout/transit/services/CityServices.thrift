namespace rs transit.services

enum Improvement {
  SignalPriority = 1
  DedicatedLane = 2
}
