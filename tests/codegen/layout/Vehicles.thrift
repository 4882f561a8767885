// No namespace: the module `vehicles` at the root of the generated tree.
enum Material {
  Steel = 1
  Aluminium = 2
}

struct Wheel {
  1: i32 diameter_mm
  2: Material material
}
