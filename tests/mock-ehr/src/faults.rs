//! Faults a test injects into the mock.

use std::time::Duration;

/// Which requests a fault applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Match {
    /// Every FHIR request (not the token endpoint).
    Fhir,
    /// FHIR requests whose path after the base starts with this text, such
    /// as `/Patient` or `/Encounter/e1`.
    Path(String),
    /// The given page of any search; 1 is the first page.
    Page(u32),
    /// The token endpoint.
    Token,
}

/// What the mock sends instead of the normal response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The normal response, after the fault's delay.
    Normal,
    /// A bare status, with an optional `Retry-After` value.
    Status {
        /// Status code.
        status: u16,
        /// `Retry-After` value, seconds or an HTTP date.
        retry_after: Option<String>,
    },
    /// An `OperationOutcome` with one issue.
    OperationOutcome {
        /// Status code.
        status: u16,
        /// Issue code, such as `not-supported` or `processing`.
        code: String,
        /// Issue diagnostics.
        diagnostics: String,
    },
    /// A redirect to `location`.
    Redirect {
        /// 301, 302, 303, 307 or 308.
        status: u16,
        /// The `Location` header.
        location: String,
    },
    /// A body of `bytes` bytes of JSON whitespace inside an object.
    Large {
        /// Body size in bytes.
        bytes: usize,
        /// Send without `Content-Length`, in chunks, so the reader cannot
        /// know the size ahead.
        chunked: bool,
    },
}

/// One fault: which requests, what reply, after what delay, how many times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Requests it applies to.
    pub matches: Match,
    /// The reply.
    pub reply: Reply,
    /// Wait before replying.
    pub delay: Duration,
    /// Requests it still applies to.
    pub remaining: u32,
}

impl Fault {
    fn new(reply: Reply) -> Self {
        Fault {
            matches: Match::Fhir,
            reply,
            delay: Duration::ZERO,
            remaining: 1,
        }
    }

    /// The next FHIR request gets `status`.
    pub fn status(status: u16) -> Self {
        Fault::new(Reply::Status {
            status,
            retry_after: None,
        })
    }

    /// The next FHIR request gets 429 with `Retry-After: seconds`.
    pub fn too_many_requests(seconds: u64) -> Self {
        Fault::new(Reply::Status {
            status: 429,
            retry_after: Some(seconds.to_string()),
        })
    }

    /// The next FHIR request gets an `OperationOutcome` error.
    pub fn operation_outcome(status: u16, code: &str, diagnostics: &str) -> Self {
        Fault::new(Reply::OperationOutcome {
            status,
            code: code.to_string(),
            diagnostics: diagnostics.to_string(),
        })
    }

    /// The next FHIR request is redirected with 302 to `location`.
    pub fn redirect(location: &str) -> Self {
        Fault::new(Reply::Redirect {
            status: 302,
            location: location.to_string(),
        })
    }

    /// The next FHIR request gets a 200 body of `bytes` bytes.
    pub fn large_body(bytes: usize, chunked: bool) -> Self {
        Fault::new(Reply::Large { bytes, chunked })
    }

    /// The next FHIR request gets the normal response after `delay`.
    pub fn slow(delay: Duration) -> Self {
        Fault {
            delay,
            ..Fault::new(Reply::Normal)
        }
    }

    /// Applies to the next `count` matching requests instead of one.
    pub fn times(mut self, count: u32) -> Self {
        self.remaining = count;
        self
    }

    /// Sets `Retry-After` on a [`Reply::Status`] fault.
    pub fn retry_after(mut self, value: &str) -> Self {
        if let Reply::Status { retry_after, .. } = &mut self.reply {
            *retry_after = Some(value.to_string());
        }
        self
    }

    /// Waits `delay` before replying.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Applies only to page `number` of searches.
    pub fn on_page(mut self, number: u32) -> Self {
        self.matches = Match::Page(number);
        self
    }

    /// Applies only to FHIR paths starting with `prefix` (after the base).
    pub fn on_path(mut self, prefix: &str) -> Self {
        self.matches = Match::Path(prefix.to_string());
        self
    }

    /// Applies only to the token endpoint.
    pub fn on_token_endpoint(mut self) -> Self {
        self.matches = Match::Token;
        self
    }
}

/// Where a request went, for matching.
#[derive(Debug)]
pub(crate) struct RequestKind<'a> {
    /// Path after the FHIR base, or `None` for the token endpoint and
    /// other non-FHIR paths.
    pub(crate) fhir_path: Option<&'a str>,
    pub(crate) is_token: bool,
    pub(crate) page: Option<u32>,
}

/// Takes the first fault that applies to `kind`, counting it down.
pub(crate) fn take(faults: &mut Vec<Fault>, kind: &RequestKind<'_>) -> Option<Fault> {
    let index = faults.iter().position(|fault| applies(fault, kind))?;
    let fault = &mut faults[index];
    fault.remaining -= 1;
    let taken = fault.clone();
    if fault.remaining == 0 {
        faults.remove(index);
    }
    Some(taken)
}

fn applies(fault: &Fault, kind: &RequestKind<'_>) -> bool {
    if fault.remaining == 0 {
        return false;
    }
    match &fault.matches {
        Match::Fhir => kind.fhir_path.is_some(),
        Match::Path(prefix) => kind
            .fhir_path
            .is_some_and(|path| path.starts_with(prefix.as_str())),
        Match::Page(number) => kind.page == Some(*number),
        Match::Token => kind.is_token,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fhir(path: &str) -> RequestKind<'_> {
        RequestKind {
            fhir_path: Some(path),
            is_token: false,
            page: None,
        }
    }

    #[test]
    fn counted_fault_runs_out() {
        let mut faults = vec![Fault::status(503).times(2)];

        let taken: Vec<bool> = (0..3)
            .map(|_| take(&mut faults, &fhir("/Patient")).is_some())
            .collect();

        assert_eq!(taken, vec![true, true, false]);
    }

    #[test]
    fn path_fault_skips_other_paths() {
        let mut faults = vec![Fault::status(500).on_path("/Encounter")];

        assert!(take(&mut faults, &fhir("/Patient/1")).is_none());
        assert!(take(&mut faults, &fhir("/Encounter?x=1")).is_some());
    }

    #[test]
    fn token_fault_skips_fhir() {
        let mut faults = vec![Fault::status(500).on_token_endpoint()];
        let token = RequestKind {
            fhir_path: None,
            is_token: true,
            page: None,
        };

        assert!(take(&mut faults, &fhir("/Patient")).is_none());
        assert!(take(&mut faults, &token).is_some());
    }
}
