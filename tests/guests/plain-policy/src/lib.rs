//! A policy written against `world policy` with `wit-bindgen` alone, as an
//! author without the Rust SDK (or in another language) would write one. It
//! exports no `policy-packed`, so the host routes it through the typed
//! `policy-api.route`.
//!
//! Refills go to the MA pool and normal results to the RN pool. Other
//! results go to the ordering physician, visit notes to the rendering
//! clinician, and anything else to the front desk. A result or note whose
//! provider is unknown fails with `invalid-item`.

// The generated bindings use `unsafe` for the canonical ABI.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod component {
    wit_bindgen::generate!({ world: "policy", path: "../../../sdk/wit" });

    use exports::switchboard::plugin::policy_api::Guest;
    use switchboard::plugin::types::{
        Assignment, Category, ConfigError, Nudge, OpenItem, PrepItem, PrepVisit, ResultFlag,
        RouteContext, RouteError, RouteItem, Site,
    };

    struct Plain;

    impl Guest for Plain {
        fn configure(_site: Site, _config: String) -> Result<(), ConfigError> {
            Ok(())
        }

        fn route(
            items: Vec<RouteItem>,
            _context: RouteContext,
        ) -> Vec<Result<Assignment, RouteError>> {
            items.into_iter().map(route_one).collect()
        }

        fn nudges(_items: Vec<OpenItem>, _now: i64) -> Vec<Nudge> {
            Vec::new()
        }

        fn prepare(_visits: Vec<PrepVisit>, _now: i64) -> Vec<PrepItem> {
            Vec::new()
        }
    }

    fn route_one(item: RouteItem) -> Result<Assignment, RouteError> {
        let (rule, role, person) = match (item.category, item.flag) {
            (Category::Refill, _) => ("refills", "ma", None),
            (Category::Result, ResultFlag::Normal) => ("normal-results", "rn", None),
            (Category::Result, _) => ("other-results", "physician", Some(item.ordering)),
            (Category::VisitNote, _) => ("notes", "physician", Some(item.rendering)),
            _ => ("everything-else", "front-desk", None),
        };
        let person = match person {
            Some(Some(id)) => Some(id),
            Some(None) => {
                return Err(RouteError::InvalidItem(format!(
                    "item {} has no provider on the roster",
                    item.key
                )));
            }
            None => None,
        };
        Ok(Assignment {
            role: role.to_string(),
            person,
            priority: item.priority,
            due: item.due,
            reason: format!("rule {rule}: plain policy"),
            rule: rule.to_string(),
        })
    }

    export!(Plain);
}
