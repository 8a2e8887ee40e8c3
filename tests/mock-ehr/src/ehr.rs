//! [`MockEhr`]: the server handle tests drive.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::auth::{Auth, Client, OAuthError, PublicKey};
use crate::faults::{self, Fault, Reply, RequestKind};
use crate::keys::TestKeyPair;
use crate::server::Running;
use crate::store::{Problem, Store};

/// Token lifetime when a test sets none: five minutes, the shortest common
/// vendor lifetime, so refresh paths run.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

const FHIR_JSON: &str = "application/fhir+json";

/// Whether a request carried a usable bearer token. The token itself is
/// never logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthSeen {
    /// No `Authorization` header.
    Missing,
    /// One header with a token the mock issued and that has not expired.
    Valid,
    /// One header with a token the mock issued that has expired.
    Expired,
    /// Anything else: unknown token, not `Bearer`, or several headers.
    Invalid,
}

/// One request as the mock saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedRequest {
    /// Method.
    pub method: String,
    /// Path, including the `/fhir` base.
    pub path: String,
    /// Query string, without `?`.
    pub query: Option<String>,
    /// What the `Authorization` header amounted to.
    pub auth: AuthSeen,
    /// Header names, lowercase, without values.
    pub header_names: Vec<String>,
    /// Request body size.
    pub body_bytes: usize,
    /// Status of the mock's response.
    pub status: u16,
}

impl LoggedRequest {
    /// True for requests to the token endpoint.
    pub fn is_token_request(&self) -> bool {
        self.path == "/token"
    }
}

#[derive(Debug)]
struct Inner {
    store: Store,
    auth: Auth,
    faults: Vec<Fault>,
    log: Vec<LoggedRequest>,
    clock_offset: Duration,
    token_lifetime: Duration,
    require_auth: bool,
}

impl Inner {
    fn now(&self) -> SystemTime {
        SystemTime::now() + self.clock_offset
    }
}

#[derive(Debug)]
struct Shared {
    inner: Mutex<Inner>,
    origin: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn base(&self) -> String {
        format!("{}/fhir", self.origin)
    }

    fn token_url(&self) -> String {
        format!("{}/token", self.origin)
    }
}

/// An in-memory FHIR R4 server with a SMART Backend Services token
/// endpoint, on `127.0.0.1` at a free port. Stops when dropped.
///
/// Layout: the FHIR base is `{origin}/fhir`, the token endpoint
/// `{origin}/token`, and `{origin}/fhir/.well-known/smart-configuration`
/// points at it. Every FHIR path except `metadata` and the SMART
/// configuration needs a bearer token the mock issued, unless
/// [`MockEhr::set_require_auth`] turned that off.
///
/// Served: `GET /fhir/{type}/{id}`, `GET /fhir/{type}?…` (a `searchset`
/// Bundle with opaque `next` links; see [`MockEhr::put`] for the
/// parameters), `GET` of a next link, `POST /fhir/{type}`,
/// `PUT /fhir/{type}/{id}`, `DELETE /fhir/{type}/{id}`, `POST /token`.
#[derive(Debug)]
pub struct MockEhr {
    shared: Arc<Shared>,
    running: Running,
}

impl MockEhr {
    /// Starts the server.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound.
    pub fn start() -> Self {
        let listener = Running::bind();
        let address = listener.local_addr().expect("read the bound address");
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                store: Store::default(),
                auth: Auth::default(),
                faults: Vec::new(),
                log: Vec::new(),
                clock_offset: Duration::ZERO,
                token_lifetime: DEFAULT_TOKEN_LIFETIME,
                require_auth: true,
            }),
            origin: format!("http://{address}"),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());

        MockEhr {
            shared,
            running: Running::serve(listener, app),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> &str {
        &self.shared.origin
    }

    /// Returns the FHIR base, `http://127.0.0.1:PORT/fhir`.
    pub fn base_url(&self) -> String {
        self.shared.base()
    }

    /// Returns the token endpoint, `http://127.0.0.1:PORT/token`.
    pub fn token_url(&self) -> String {
        self.shared.token_url()
    }

    /// `127.0.0.1:PORT`, the `http_hosts` entry that allows this server.
    pub fn host_port(&self) -> String {
        self.running.address.to_string()
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.running.address.port()
    }

    /// Returns the mock's current time: the real time plus what
    /// [`MockEhr::advance_clock`] added.
    pub fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(self.shared.lock().now())
    }

    /// Moves the mock's clock forward, for token and assertion expiry and
    /// for `meta.lastUpdated` of later writes.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.lock().clock_offset += by;
    }

    /// Stores a resource (create or new version) at the mock's current
    /// time; see [`MockEhr::put_at`].
    ///
    /// # Panics
    ///
    /// When `resource` is not an object with `resourceType`.
    pub fn put(&self, resource: Value) -> Value {
        let at = self.now();
        self.put_at(resource, at)
    }

    /// Stores a resource with `meta.lastUpdated = at` and the next
    /// `meta.versionId`; a resource without `id` gets one. Returns the
    /// stored form.
    ///
    /// Searches support `_lastUpdated` (repeatable, with `eq`, `ge`, `gt`,
    /// `le` or `lt`), `_id`, `_count` (default 50, at most 1000), `_sort`
    /// (`_lastUpdated`, `-_lastUpdated`) and `_include` (`Type:field`).
    /// They ignore other parameters, as a lenient FHIR server does.
    ///
    /// # Panics
    ///
    /// When `resource` is not an object with `resourceType`.
    pub fn put_at(&self, resource: Value, at: DateTime<Utc>) -> Value {
        self.shared
            .lock()
            .store
            .put(resource, at)
            .unwrap_or_else(|e| panic!("put: {e}"))
    }

    /// Deletes a resource, so later reads return 410. Returns false when it
    /// did not exist.
    pub fn delete(&self, resource_type: &str, id: &str) -> bool {
        let mut inner = self.shared.lock();
        let at = DateTime::<Utc>::from(inner.now());
        inner.store.delete(resource_type, id, at)
    }

    /// Returns the stored resource, if present and not deleted.
    pub fn get(&self, resource_type: &str, id: &str) -> Option<Value> {
        self.shared.lock().store.read(resource_type, id).ok()
    }

    /// Registers a SMART client whose assertions are signed by `key`'s
    /// private half. With `key_id`, assertions must carry that `kid` when
    /// they carry one.
    ///
    /// # Panics
    ///
    /// When the public key does not parse.
    pub fn register_client(&self, client_id: &str, key: &TestKeyPair, key_id: Option<&str>) {
        let public = PublicKey::from_pem(&key.public_pem, key.algorithm)
            .unwrap_or_else(|e| panic!("register_client: {e}"));
        self.shared.lock().auth.clients.insert(
            client_id.to_string(),
            Client {
                key: public,
                key_id: key_id.map(str::to_string),
            },
        );
    }

    /// Issues a bearer token directly, for static-token credentials. It
    /// lasts the configured token lifetime.
    pub fn issue_token(&self) -> String {
        let mut inner = self.shared.lock();
        let (now, lifetime) = (inner.now(), inner.token_lifetime);
        inner.auth.issue(now, lifetime)
    }

    /// Invalidates every issued token; the next FHIR request gets 401.
    pub fn revoke_tokens(&self) {
        self.shared.lock().auth.tokens.clear();
    }

    /// Sets `expires_in` of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.shared.lock().token_lifetime = lifetime;
    }

    /// Turns the bearer-token requirement of FHIR paths on or off.
    pub fn set_require_auth(&self, required: bool) {
        self.shared.lock().require_auth = required;
    }

    /// Adds a fault; faults are tried in the order added.
    pub fn inject(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// Removes every pending fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Forgets every search page token, so stored next links return 404.
    pub fn expire_pages(&self) {
        self.shared.lock().store.expire_pages();
    }

    /// Returns every request so far, in order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.lock().log.clone()
    }

    /// Requests so far to the token endpoint.
    pub fn token_requests(&self) -> usize {
        self.shared
            .lock()
            .log
            .iter()
            .filter(|r| r.is_token_request())
            .count()
    }

    /// Requests so far to FHIR paths.
    pub fn fhir_requests(&self) -> usize {
        self.shared
            .lock()
            .log
            .iter()
            .filter(|r| r.path.starts_with("/fhir"))
            .count()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.shared.lock().log.clear();
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().map(str::to_string);
    let pairs = parse_query(query.as_deref());

    let (fault, auth) = {
        let mut inner = shared.lock();
        let fhir_path = path
            .strip_prefix("/fhir")
            .filter(|rest| rest.is_empty() || rest.starts_with('/'));
        let page = fhir_path
            .filter(|_| method == Method::GET)
            .and_then(|rest| page_number(&inner.store, rest, &pairs));
        let kind = RequestKind {
            fhir_path,
            is_token: path == "/token",
            page,
        };
        let fault = faults::take(&mut inner.faults, &kind);
        let values: Vec<&str> = headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .map(|v| v.to_str().unwrap_or(""))
            .collect();
        let auth = inner.auth.judge(&values, inner.now());
        (fault, auth)
    };

    if let Some(fault) = &fault
        && !fault.delay.is_zero()
    {
        tokio::time::sleep(fault.delay).await;
    }

    let response = match fault.map(|f| f.reply) {
        Some(Reply::Normal) | None => route(&shared, &method, &path, &pairs, auth, &headers, &body),
        Some(reply) => fault_response(reply),
    };

    shared.lock().log.push(LoggedRequest {
        method: method.to_string(),
        path,
        query,
        auth,
        header_names: headers.keys().map(|k| k.as_str().to_string()).collect(),
        body_bytes: body.len(),
        status: response.status().as_u16(),
    });
    response
}

/// Returns the search page a FHIR `GET` requests: the `_page` token's number, or 1
/// for a new search.
fn page_number(store: &Store, rest: &str, pairs: &[(String, String)]) -> Option<u32> {
    if let Some((_, token)) = pairs.iter().find(|(name, _)| name == "_page") {
        return store.page(token).map(|page| page.number);
    }
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match segments[..] {
        [kind] if kind != "metadata" => Some(1),
        _ => None,
    }
}

fn route(
    shared: &Shared,
    method: &Method,
    path: &str,
    pairs: &[(String, String)],
    auth: AuthSeen,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if path == "/token" {
        return if method == Method::POST {
            token_endpoint(shared, headers, body)
        } else {
            outcome(405, "not-supported", "the token endpoint takes POST")
        };
    }
    let Some(rest) = path.strip_prefix("/fhir") else {
        return outcome(404, "not-found", "this server serves /fhir and /token");
    };
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();

    match (method, &segments[..]) {
        (&Method::GET, ["metadata"]) => return fhir_json(200, capability_statement(shared)),
        (&Method::GET, [".well-known", "smart-configuration"]) => {
            return smart_configuration(shared);
        }
        _ => {}
    }

    let mut inner = shared.lock();
    if inner.require_auth && auth != AuthSeen::Valid {
        drop(inner);
        return unauthorized(auth);
    }
    let now = DateTime::<Utc>::from(inner.now());
    let base = shared.base();

    let result = match (method, &segments[..]) {
        (&Method::GET, [kind]) => match pairs.iter().find(|(name, _)| name == "_page") {
            Some((_, token)) => inner.store.continue_search(token, &base).map(|b| (200, b)),
            None => inner.store.search(kind, pairs, &base).map(|b| (200, b)),
        },
        (&Method::GET, [kind, id]) => inner.store.read(kind, id).map(|r| (200, r)),
        (&Method::POST, [kind]) => write(&mut inner.store, kind, None, body, now).map(|r| (201, r)),
        (&Method::PUT, [kind, id]) => {
            write(&mut inner.store, kind, Some(id), body, now).map(|r| (200, r))
        }
        (&Method::DELETE, [kind, id]) => {
            inner.store.delete(kind, id, now);
            Ok((204, Value::Null))
        }
        _ => Err(Problem {
            status: 404,
            code: "not-supported",
            diagnostics: format!("{method} {rest} is not an interaction this server supports"),
        }),
    };
    drop(inner);

    match result {
        Ok((204, _)) => StatusCode::NO_CONTENT.into_response(),
        Ok((status, value)) => fhir_json(status, value),
        Err(problem) => outcome(problem.status, problem.code, &problem.diagnostics),
    }
}

fn write(
    store: &mut Store,
    kind: &str,
    id: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Value, Problem> {
    let invalid = |diagnostics: String| Problem {
        status: 400,
        code: "invalid",
        diagnostics,
    };
    let mut resource: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("the body is not JSON: {e}")))?;
    if resource.get("resourceType").and_then(Value::as_str) != Some(kind) {
        return Err(invalid(format!("the body's resourceType is not {kind}")));
    }
    if let (Some(id), Some(object)) = (id, resource.as_object_mut()) {
        object.insert("id".to_string(), json!(id));
    }
    store.put(resource, now).map_err(invalid)
}

fn token_endpoint(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !form_type.starts_with("application/x-www-form-urlencoded") {
        return oauth_error(&OAuthError {
            status: 400,
            error: "invalid_request",
            description: "the body must be application/x-www-form-urlencoded".to_string(),
        });
    }
    let form: HashMap<String, String> = url_decode(body);

    let mut inner = shared.lock();
    let now = inner.now();
    let grant = match inner.auth.check_grant(&form, &shared.token_url(), now) {
        Ok(grant) => grant,
        Err(error) => return oauth_error(&error),
    };
    let lifetime = inner.token_lifetime;
    let token = inner.auth.issue(now, lifetime);
    tracing::debug!(client = %grant.client_id, "mock issued a token");

    let scope = form.get("scope").cloned().unwrap_or_default();
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": lifetime.as_secs(),
            "scope": scope
        })
        .to_string(),
    )
        .into_response()
}

fn oauth_error(error: &OAuthError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": error.error, "error_description": error.description}).to_string(),
    )
        .into_response()
}

fn unauthorized(auth: AuthSeen) -> Response {
    let diagnostics = match auth {
        AuthSeen::Missing => "a bearer token is required",
        AuthSeen::Expired => "the bearer token has expired",
        _ => "the bearer token is not valid",
    };
    let mut response = outcome(401, "login", diagnostics);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}

fn fault_response(reply: Reply) -> Response {
    match reply {
        Reply::Normal => StatusCode::OK.into_response(),
        Reply::Status {
            status,
            retry_after,
        } => {
            let mut response = outcome(status, "transient", "injected fault");
            if let Some(value) = retry_after.and_then(|v| header::HeaderValue::from_str(&v).ok()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Reply::OperationOutcome {
            status,
            code,
            diagnostics,
        } => outcome(status, &code, &diagnostics),
        Reply::Redirect { status, location } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
            match header::HeaderValue::from_str(&location) {
                Ok(location) => (status, [(header::LOCATION, location)]).into_response(),
                Err(_) => outcome(
                    500,
                    "exception",
                    "the injected Location is not a header value",
                ),
            }
        }
        Reply::Large { bytes, chunked } => large_body(bytes, chunked),
    }
}

fn large_body(bytes: usize, chunked: bool) -> Response {
    // `{"pad":"xxx…"}` with the padding chosen to make `bytes` in all.
    let padding = bytes.saturating_sub(10);
    let text = format!("{{\"pad\":\"{}\"}}", "x".repeat(padding));
    if !chunked {
        return fhir_json_text(200, text);
    }
    let chunks: Vec<Result<Bytes, Infallible>> = text
        .into_bytes()
        .chunks(8 * 1024)
        .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
        .collect();
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    (StatusCode::OK, [(header::CONTENT_TYPE, FHIR_JSON)], body).into_response()
}

fn capability_statement(shared: &Shared) -> Value {
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "implementation": {"description": "Switchboard mock EHR", "url": shared.base()},
        "rest": [{
            "mode": "server",
            "security": {
                "extension": [{
                    "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                    "extension": [{"url": "token", "valueUri": shared.token_url()}]
                }]
            }
        }]
    })
}

fn smart_configuration(shared: &Shared) -> Response {
    let body = json!({
        "token_endpoint": shared.token_url(),
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": ["system/*.read", "system/*.rs"],
        "capabilities": ["client-confidential-asymmetric"]
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Builds an `OperationOutcome` response with one error issue.
fn outcome(status: u16, code: &str, diagnostics: &str) -> Response {
    fhir_json(
        status,
        json!({
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}]
        }),
    )
}

fn fhir_json(status: u16, value: Value) -> Response {
    fhir_json_text(status, value.to_string())
}

fn fhir_json_text(status: u16, text: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, FHIR_JSON)], text).into_response()
}

fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    query.map(|q| form_pairs(q.as_bytes())).unwrap_or_default()
}

fn url_decode(body: &[u8]) -> HashMap<String, String> {
    form_pairs(body).into_iter().collect()
}

fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}
