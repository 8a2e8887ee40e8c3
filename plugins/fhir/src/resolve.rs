//! Finding the resources that a mapped resource references.
//!
//! A reference is looked up, in order, among the referring resource's
//! contained resources (`#id`), in the message itself, and finally on the
//! server with a read (`GET {base}/{Type}/{id}`) when reads are allowed. Each
//! reference is read at most once per call.

use std::collections::HashMap;
use std::rc::Rc;

use switchboard_sdk::ConnectorError;
use switchboard_sdk::host::{self, Level};

use crate::client::{FhirClient, ReadOutcome};
use crate::fhir::Parsed;
use crate::input::Collection;
use crate::refs;

/// The result of looking up one reference.
#[derive(Clone, Debug)]
pub enum Lookup {
    Found(Rc<Parsed>),
    /// The server responded with 404 or 410, or the reference cannot be read.
    Missing,
}

impl Lookup {
    /// Returns the resource, when found.
    pub fn found(self) -> Option<Rc<Parsed>> {
        match self {
            Lookup::Found(parsed) => Some(parsed),
            Lookup::Missing => None,
        }
    }
}

/// Resolves references for one call.
#[derive(Debug)]
pub struct Resolver<'a> {
    collection: &'a Collection,
    client: Option<FhirClient<'a>>,
    cache: HashMap<String, Option<Rc<Parsed>>>,
    reads: usize,
}

impl<'a> Resolver<'a> {
    /// Creates a resolver over `collection` that reads from `client` when it is set.
    pub fn new(collection: &'a Collection, client: Option<FhirClient<'a>>) -> Self {
        Resolver {
            collection,
            client,
            cache: HashMap::new(),
            reads: 0,
        }
    }

    /// Returns the message's resources.
    pub fn collection(&self) -> &'a Collection {
        self.collection
    }

    /// Returns how many reads this resolver sent to the server.
    pub fn reads(&self) -> usize {
        self.reads
    }

    /// Looks up `reference` made by `owner`, reading from the server only
    /// when its target type is in `readable`.
    ///
    /// # Errors
    ///
    /// The read's [`ConnectorError`] when the server could not be reached or
    /// responded with an error other than 404 or 410.
    pub fn resolve(
        &mut self,
        owner: &Parsed,
        reference: &str,
        readable: &[&str],
    ) -> Result<Lookup, ConnectorError> {
        if let Some(local_id) = reference.trim().strip_prefix('#') {
            return Ok(owner
                .contained_resource(local_id)
                .map_or(Lookup::Missing, |p| Lookup::Found(Rc::new(p))));
        }
        if let Some(entry) = self.collection.find_entry(reference) {
            // An entry the message carries but that failed to parse is
            // rejected on its own; reading it again would not help.
            return Ok(entry
                .resource
                .as_ref()
                .map_or(Lookup::Missing, |parsed| Lookup::Found(parsed.clone())));
        }
        match refs::type_and_id(reference) {
            Some((resource_type, id)) if readable.contains(&resource_type) => {
                self.read(resource_type, id)
            }
            _ => Ok(Lookup::Missing),
        }
    }

    /// Looks up `reference` in the message only: no contained resources and
    /// no reads.
    pub fn find_local(&self, reference: &str) -> Option<Rc<Parsed>> {
        self.collection.find(reference).or_else(|| {
            self.cache
                .get(refs::relative(reference)?.as_str())
                .cloned()
                .flatten()
        })
    }

    /// Reads `resource_type/id` from the server, once per call.
    ///
    /// # Errors
    ///
    /// As [`Resolver::resolve`].
    pub fn read(&mut self, resource_type: &str, id: &str) -> Result<Lookup, ConnectorError> {
        let key = format!("{resource_type}/{id}");
        if let Some(cached) = self.cache.get(&key) {
            return Ok(cached.clone().map_or(Lookup::Missing, Lookup::Found));
        }
        let Some(client) = self.client else {
            return Ok(Lookup::Missing);
        };

        self.reads += 1;
        let parsed = match client.read(resource_type, id)? {
            ReadOutcome::Found(parsed) => Some(Rc::from(parsed)),
            ReadOutcome::NotFound(_) => None,
            ReadOutcome::Unreadable(problem) => {
                host::log(
                    Level::Warn,
                    "referenced resource is unreadable; treating it as missing",
                    &[("reference", &key), ("field", &problem.field)],
                );
                None
            }
        };
        self.cache.insert(key, parsed.clone());
        Ok(parsed.map_or(Lookup::Missing, Lookup::Found))
    }
}
