//! A FHIR R4 server for tests: resources in memory, a SMART Backend
//! Services token endpoint, fault injection and a request log.
//!
//! ```no_run
//! use mock_ehr::{MockEhr, Fault, keys};
//! use serde_json::json;
//!
//! let ehr = MockEhr::start(); // 127.0.0.1 at a free port; stops on drop
//! ehr.put(json!({"resourceType": "Patient", "id": "p1"}));
//! let key = keys::p384_key_pair();
//! ehr.register_client("switchboard", &key, Some("k1"));
//! ehr.inject(Fault::too_many_requests(2)); // the next FHIR request gets 429
//! // point the code under test at ehr.base_url() and ehr.token_url() …
//! assert_eq!(ehr.token_requests(), 0);
//! ```
//!
//! It listens only on `127.0.0.1`, and its notification helper sends only
//! to loopback URLs.

mod auth;
mod ehr;
pub mod faults;
pub mod keys;
pub mod notify;
mod server;
mod sink;
mod store;

pub use auth::{MAX_ASSERTION_LIFETIME, OAuthError};
pub use ehr::{AuthSeen, DEFAULT_TOKEN_LIFETIME, LoggedRequest, MockEhr};
pub use faults::{Fault, Match, Reply};
pub use notify::{
    Notification, NotificationKind, Payload, SIGNATURE_HEADER, send_notification, send_signed,
};
pub use sink::{Received, WebhookSink};
pub use store::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
