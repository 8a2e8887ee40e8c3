//! A policy whose `policy-packed.route` returns bytes the host must reject.
//! Its configuration text picks what it returns for any batch:
//!
//! - `bad-tag`: one outcome whose tag is 9;
//! - `too-few`: a well-formed list of no outcomes;
//! - `trailing`: one well-formed `no-match` outcome and then a stray byte;
//! - `huge-count`: a count of four billion outcomes in five bytes;
//! - anything else: one well-formed `no-match` outcome per call.
//!
//! The bytes are written out by hand, so the host's reader is checked
//! against the layout in the WIT file and not against the SDK's writer.

// The generated bindings use `unsafe` for the canonical ABI.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod component {
    use std::cell::RefCell;

    wit_bindgen::generate!({ world: "packed-policy", path: "../../../sdk/wit" });

    use switchboard::plugin::types::{
        Assignment, ConfigError, Nudge, OpenItem, PrepItem, PrepVisit, RouteContext, RouteError,
        RouteItem, Site,
    };

    std::thread_local! {
        static MODE: RefCell<String> = const { RefCell::new(String::new()) };
    }

    /// `no-match` with the message "x": format 1, count 1, tag 1, length 1.
    const ONE_NO_MATCH: &[u8] = &[1, 1, 0, 0, 0, 1, 1, 0, 0, 0, b'x'];

    struct Garbled;

    impl exports::switchboard::plugin::policy_api::Guest for Garbled {
        fn configure(_site: Site, config: String) -> Result<(), ConfigError> {
            MODE.with(|mode| *mode.borrow_mut() = config.trim().to_string());
            Ok(())
        }

        fn route(
            items: Vec<RouteItem>,
            _context: RouteContext,
        ) -> Vec<Result<Assignment, RouteError>> {
            items
                .iter()
                .map(|_| Err(RouteError::NoMatch("typed route".to_string())))
                .collect()
        }

        fn nudges(_items: Vec<OpenItem>, _now: i64) -> Vec<Nudge> {
            Vec::new()
        }

        fn prepare(_visits: Vec<PrepVisit>, _now: i64) -> Vec<PrepItem> {
            Vec::new()
        }
    }

    impl exports::switchboard::plugin::policy_packed::Guest for Garbled {
        fn route(_items: Vec<u8>, _context: RouteContext) -> Vec<u8> {
            MODE.with(|mode| match mode.borrow().as_str() {
                "bad-tag" => vec![1, 1, 0, 0, 0, 9, 1, 0, 0, 0, b'x'],
                "too-few" => vec![1, 0, 0, 0, 0],
                "trailing" => [ONE_NO_MATCH, &[0xAA]].concat(),
                "huge-count" => vec![1, 0, 0x28, 0x6B, 0xEE],
                _ => ONE_NO_MATCH.to_vec(),
            })
        }
    }

    export!(Garbled);
}
