//! A double usable as a set element or map key in generated code.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use crate::protocol::{Decode, Encode, ProtocolError, Reader, TType, WireType};

/// An `f64` ordered by [`f64::total_cmp`], so `set<double>` and `map<double, V>` can be
/// `BTreeSet<OrderedF64>` and `BTreeMap<OrderedF64, V>` with a deterministic encoding.
/// Equality is bitwise-total too: `NaN == NaN`, `0.0 != -0.0`.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrderedF64(pub f64);

impl PartialEq for OrderedF64 {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for OrderedF64 {}

impl PartialOrd for OrderedF64 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedF64 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl Hash for OrderedF64 {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}

impl From<f64> for OrderedF64 {
    fn from(value: f64) -> Self {
        OrderedF64(value)
    }
}

impl WireType for OrderedF64 {
    const TTYPE: TType = TType::Double;
}

impl Encode for OrderedF64 {
    fn encode(&self, w: &mut crate::protocol::Writer<'_>) {
        self.0.encode(w);
    }
}

impl Decode for OrderedF64 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, ProtocolError> {
        f64::decode(r).map(OrderedF64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{decode_from, encode_to_vec};

    #[test]
    fn orders_totally_and_encodes_as_double() {
        let mut values = [OrderedF64(1.5), OrderedF64(f64::NAN), OrderedF64(-2.0)];
        values.sort();
        assert_eq!(values[0], OrderedF64(-2.0));
        assert!(values[2].0.is_nan());
        assert_eq!(OrderedF64(f64::NAN), OrderedF64(f64::NAN));
        assert_eq!(encode_to_vec(&OrderedF64(0.5)), encode_to_vec(&0.5f64));
        assert_eq!(
            decode_from::<OrderedF64>(&encode_to_vec(&-3.25f64))
                .unwrap()
                .0,
            -3.25
        );
    }
}
