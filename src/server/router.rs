//! Several services on one port: lookup by plain method name or by "Service:method".

use std::collections::HashMap;
use std::sync::Arc;

use super::processor::Processor;

/// Routes each request to the processor that serves its method.
///
/// "Service:method" (Apache's TMultiplexedProtocol) always works. A plain method name works
/// when exactly one service has it; a name two services share must be called with its prefix.
#[derive(Clone, Default)]
pub struct Router {
    processors: Vec<Arc<dyn Processor>>,
    by_service: HashMap<&'static str, usize>,
    by_method: HashMap<&'static str, Option<usize>>,
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
        let index = match self.by_service.get(processor.service_name()) {
            Some(&index) => {
                self.processors[index] = processor;
                index
            }
            None => {
                self.processors.push(processor);
                self.processors.len() - 1
            }
        };
        self.by_service
            .insert(self.processors[index].service_name(), index);
        self.rebuild_methods();
        self
    }

    fn rebuild_methods(&mut self) {
        self.by_method.clear();
        for (index, processor) in self.processors.iter().enumerate() {
            for &method in processor.method_names() {
                self.by_method
                    .entry(method)
                    .and_modify(|owner| {
                        if *owner != Some(index) {
                            *owner = None;
                        }
                    })
                    .or_insert(Some(index));
            }
        }
    }

    /// The processor for a request's `name` and the plain method name to hand it, or `None`
    /// when no service has that method (or a plain name is ambiguous).
    pub fn route<'n>(&self, name: &'n str) -> Option<(&dyn Processor, &'n str)> {
        match name.split_once(':') {
            Some((service, method)) => {
                let processor = &self.processors[*self.by_service.get(service)?];
                processor
                    .method_names()
                    .contains(&method)
                    .then_some((processor.as_ref(), method))
            }
            None => {
                let index = (*self.by_method.get(name)?)?;
                Some((self.processors[index].as_ref(), name))
            }
        }
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
    use crate::protocol::{MessageHeader, ProtocolError, Reader};
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
            _: &mut Vec<u8>,
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
}
