// Module `common`.
struct Shift {
  1: i32 start_hour
}
