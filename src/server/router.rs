//! Several services on one port: lookup by plain method name or by "Service:method".

use std::sync::Arc;

use super::processor::Processor;

/// Routes each request to the processor that serves its method.
///
/// "Service:method" (Apache's TMultiplexedProtocol) always works. A plain method name goes to
/// the [default service](Router::default_service) when one is set and serves that method;
/// otherwise it works when exactly one service has it, and a name two services share must be
/// called with its prefix. So a multiplexed server keeps answering the plain names its
/// clients used before it served a second service.
///
/// Names are looked up in tables ordered by (length, first eight bytes, name), scanned when
/// short and binary-searched when long: most steps compare two integers, and only names of more than eight bytes that match so far
/// are compared byte by byte. Hashing the name with SipHash was the largest single cost of
/// routing a request.
#[derive(Clone, Default)]
pub struct Router {
    processors: Vec<Arc<dyn Processor>>,
    /// Service name to index in `processors`.
    by_service: Table<usize>,
    /// Method name to the one processor that has it and the method's slot, `None` when
    /// several processors have it.
    by_method: Table<Option<(usize, usize)>>,
    /// The first method slot of each processor: its methods take the slots from there on, in
    /// the order of `method_names` (slots number the per-method counters).
    slot_base: Vec<usize>,
    /// The service plain names go to first, once a service of that name is added.
    default_service: Option<&'static str>,
}

/// Tables this short are scanned in order: cheaper than a binary search's bookkeeping.
const LINEAR_SCAN: usize = 16;

/// A small map from names, sorted by [`Key`].
#[derive(Clone)]
struct Table<T>(Vec<(Key, T)>);

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table(Vec::new())
    }
}

/// A name with its length and first eight bytes, for cheap comparisons.
#[derive(Clone, Copy)]
struct Key {
    len: usize,
    prefix: u64,
    name: &'static str,
}

/// The first eight bytes of `name` (zero-padded) as one integer.
fn prefix(name: &str) -> u64 {
    let mut bytes = [0u8; 8];
    let head = &name.as_bytes()[..name.len().min(8)];
    bytes[..head.len()].copy_from_slice(head);
    u64::from_le_bytes(bytes)
}

/// The order of a table's keys against `name` (whose `prefix` is given).
fn order(key: &Key, name: &str, name_prefix: u64) -> std::cmp::Ordering {
    key.len
        .cmp(&name.len())
        .then(key.prefix.cmp(&name_prefix))
        .then_with(|| {
            if name.len() <= 8 {
                std::cmp::Ordering::Equal
            } else {
                key.name.as_bytes()[8..].cmp(&name.as_bytes()[8..])
            }
        })
}

impl<T: Copy> Table<T> {
    fn position(&self, name: &str) -> Result<usize, usize> {
        let name_prefix = prefix(name);
        self.0
            .binary_search_by(|(key, _)| order(key, name, name_prefix))
    }

    fn get(&self, name: &str) -> Option<T> {
        if self.0.len() <= LINEAR_SCAN {
            let (len, name_prefix) = (name.len(), prefix(name));
            return self
                .0
                .iter()
                .find(|(key, _)| {
                    key.len == len
                        && key.prefix == name_prefix
                        && (len <= 8 || key.name.as_bytes()[8..] == name.as_bytes()[8..])
                })
                .map(|&(_, value)| value);
        }
        self.position(name).ok().map(|at| self.0[at].1)
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut T> {
        self.position(name).ok().map(|at| &mut self.0[at].1)
    }

    /// Adds `name`; it must not be in the table yet.
    fn insert(&mut self, name: &'static str, value: T) {
        if let Err(at) = self.position(name) {
            let key = Key {
                len: name.len(),
                prefix: prefix(name),
                name,
            };
            self.0.insert(at, (key, value));
        }
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.processors.iter().map(|p| p.service_name()).collect();
        f.debug_struct("Router").field("services", &names).finish()
    }
}

impl Router {
    /// A router with no services.
    pub fn new() -> Self {
        Router::default()
    }

    /// Adds a service. A second service with the same name replaces the first.
    pub fn service<P: Processor>(self, processor: P) -> Self {
        self.shared_service(Arc::new(processor))
    }

    /// Adds a service that is already shared.
    pub fn shared_service(mut self, processor: Arc<dyn Processor>) -> Self {
        let name = processor.service_name();
        match self.by_service.get(name) {
            Some(index) => self.processors[index] = processor,
            None => {
                self.processors.push(processor);
                self.by_service.insert(name, self.processors.len() - 1);
            }
        }
        self.rebuild_methods();
        self
    }

    /// Sends plain method names (no `Service:` prefix) to the service called `name` when it
    /// serves the method, ahead of the one-owner rule; prefixed names are unaffected. Order
    /// does not matter: a name no service has yet takes effect when that service is added.
    /// Defaults to no default service (a plain name must belong to exactly one service).
    pub fn default_service(mut self, name: &'static str) -> Self {
        self.default_service = Some(name);
        self.rebuild_methods();
        self
    }

    fn rebuild_methods(&mut self) {
        self.by_method.clear();
        self.slot_base.clear();
        let mut next_slot = 0;
        for (index, processor) in self.processors.iter().enumerate() {
            self.slot_base.push(next_slot);
            for (position, &method) in processor.method_names().iter().enumerate() {
                let slot = next_slot + position;
                match self.by_method.get_mut(method) {
                    Some(owner) => {
                        if owner.is_some_and(|(owner, _)| owner != index) {
                            *owner = None;
                        }
                    }
                    None => self.by_method.insert(method, Some((index, slot))),
                }
            }
            next_slot += processor.method_names().len();
        }
        // The default service's methods are its own even when another service shares them.
        let default = self
            .default_service
            .and_then(|name| self.by_service.get(name));
        if let Some(index) = default {
            let processor = &self.processors[index];
            for (position, &method) in processor.method_names().iter().enumerate() {
                let route = Some((index, self.slot_base[index] + position));
                if let Some(owner) = self.by_method.get_mut(method) {
                    *owner = route;
                }
            }
        }
    }

    /// The processor for a request's `name` and the plain method name to hand it, or `None`
    /// when no service has that method (or a plain name is ambiguous).
    pub fn route<'n>(&self, name: &'n str) -> Option<(&dyn Processor, &'n str)> {
        self.route_slot(name)
            .map(|(processor, method, _)| (processor, method))
    }

    /// [`route`](Router::route), plus the method's slot among [`method_slots`]
    /// (Router::method_slots).
    pub(crate) fn route_slot<'n>(&self, name: &'n str) -> Option<(&dyn Processor, &'n str, usize)> {
        match name.split_once(':') {
            Some((service, method)) => {
                let index = self.by_service.get(service)?;
                let processor = &self.processors[index];
                let position = processor.method_names().iter().position(|&m| m == method)?;
                Some((processor.as_ref(), method, self.slot_base[index] + position))
            }
            None => {
                let (index, slot) = self.by_method.get(name)??;
                Some((self.processors[index].as_ref(), name, slot))
            }
        }
    }

    /// (service, method) of every method slot, in slot order.
    pub(crate) fn method_slots(&self) -> Vec<(&'static str, &'static str)> {
        self.processors
            .iter()
            .flat_map(|processor| {
                let service = processor.service_name();
                processor.method_names().iter().map(move |&m| (service, m))
            })
            .collect()
    }

    /// Whether no service is registered.
    pub fn is_empty(&self) -> bool {
        self.processors.is_empty()
    }
}

impl<P: Processor> From<P> for Router {
    fn from(processor: P) -> Self {
        Router::new().service(processor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{MessageHeader, ProtocolError, Reader, Writer};
    use crate::server::CallContext;

    struct Named(&'static str, &'static [&'static str]);

    impl Processor for Named {
        fn service_name(&self) -> &'static str {
            self.0
        }
        fn method_names(&self) -> &'static [&'static str] {
            self.1
        }
        fn process(
            &self,
            _: &CallContext,
            _: &MessageHeader<'_>,
            _: &mut Reader<'_>,
            _: &mut Writer<'_>,
        ) -> Result<(), ProtocolError> {
            Ok(())
        }
    }

    #[test]
    fn plain_names_when_unambiguous_prefixed_always() {
        let router = Router::new()
            .service(Named("A", &["ping", "a"]))
            .service(Named("B", &["ping", "b"]));
        assert_eq!(router.route("a").unwrap().0.service_name(), "A");
        assert_eq!(router.route("b").unwrap().0.service_name(), "B");
        assert!(router.route("ping").is_none(), "ambiguous");
        let (processor, method) = router.route("B:ping").unwrap();
        assert_eq!((processor.service_name(), method), ("B", "ping"));
        assert!(router.route("A:b").is_none());
        assert!(router.route("C:ping").is_none());
        assert!(router.route("nope").is_none());
    }

    #[test]
    fn the_default_service_takes_plain_names_it_serves() {
        // Set before or after the services are added, it routes the same.
        for router in [
            Router::new()
                .default_service("B")
                .service(Named("A", &["ping", "a"]))
                .service(Named("B", &["ping", "b"])),
            Router::new()
                .service(Named("A", &["ping", "a"]))
                .service(Named("B", &["ping", "b"]))
                .default_service("B"),
        ] {
            let slot = |name| {
                router
                    .route_slot(name)
                    .map(|(p, m, slot)| (p.service_name(), m, slot))
            };
            assert_eq!(
                slot("ping"),
                Some(("B", "ping", 2)),
                "shared name: the default's"
            );
            assert_eq!(slot("b"), Some(("B", "b", 3)));
            // A plain name only another service has still reaches it.
            assert_eq!(slot("a"), Some(("A", "a", 1)));
            assert_eq!(slot("A:ping"), Some(("A", "ping", 0)));
            assert_eq!(slot("nope"), None);
        }
        // A default no service is named after changes nothing.
        let router = Router::new()
            .service(Named("A", &["ping"]))
            .service(Named("B", &["ping"]))
            .default_service("C");
        assert!(router.route("ping").is_none());
    }

    #[test]
    fn slots_number_every_method_once_whichever_way_it_is_called() {
        let router = Router::new()
            .service(Named("A", &["ping", "a"]))
            .service(Named("B", &["ping", "b"]));
        let slots = router.method_slots();
        assert_eq!(
            slots,
            [("A", "ping"), ("A", "a"), ("B", "ping"), ("B", "b")]
        );
        let slot = |name| router.route_slot(name).map(|(_, _, slot)| slot);
        assert_eq!(slot("a"), Some(1));
        assert_eq!(slot("A:a"), Some(1));
        assert_eq!(slot("b"), Some(3));
        assert_eq!(slot("B:ping"), Some(2));
        assert_eq!(slot("A:ping"), Some(0));
        assert_eq!(slot("ping"), None);
    }

    #[test]
    fn long_names_and_shared_prefixes_route_exactly() {
        let router = Router::new()
            .service(Named(
                "Svc",
                &["getUserById", "getUserByName", "get", "getUser"],
            ))
            .service(Named("Svc2", &["getUserByIdx", "x"]));
        for name in ["getUserById", "getUserByName", "get", "getUser"] {
            let (processor, method) = router.route(name).unwrap();
            assert_eq!((processor.service_name(), method), ("Svc", name));
        }
        assert_eq!(
            router.route("getUserByIdx").unwrap().0.service_name(),
            "Svc2"
        );
        assert_eq!(router.route("Svc2:x").unwrap().0.service_name(), "Svc2");
        for name in [
            "getUserByI",
            "getUserByIdy",
            "getU",
            "",
            "ge",
            "getUserByNamf",
        ] {
            assert!(router.route(name).is_none(), "{name}");
        }
        // A service registered again under its name replaces the first.
        let router = router.service(Named("Svc", &["only"]));
        assert!(router.route("getUser").is_none());
        assert_eq!(router.route("only").unwrap().0.service_name(), "Svc");
    }
}
