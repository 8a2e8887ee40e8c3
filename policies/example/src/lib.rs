//! A starter routing policy: the primary-care defaults written as plain Rust.
//!
//! Copy this crate to start a policy of your own. It routes
//!
//! - refill requests to the medical assistant of the patient's PCP's pod,
//! - normal results to the nurse pool,
//! - abnormal and critical results to the ordering physician,
//! - visit notes to the rendering clinician,
//! - everything else to the front desk.
//!
//! The config text may rename the roles, for sites that call them differently:
//!
//! ```toml
//! ma = "medical-assistant"
//! critical_due_minutes = 60
//! ```

use serde::Deserialize;
use switchboard_sdk::{
    Assignment, Category, ConfigError, Policy, Priority, ResultFlag, RouteContext, RouteError,
    RouteItem, Site,
};

/// Role names and the critical-result due time, all overridable in config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    ma: String,
    rn: String,
    physician: String,
    front_desk: String,
    critical_due_minutes: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ma: "ma".into(),
            rn: "rn".into(),
            physician: "physician".into(),
            front_desk: "front-desk".into(),
            critical_due_minutes: 60,
        }
    }
}

/// The configured policy.
#[derive(Debug)]
pub struct ExamplePolicy {
    site: Site,
    settings: Settings,
}

impl Policy for ExamplePolicy {
    fn configure(site: Site, config: &str) -> Result<Self, ConfigError> {
        let settings: Settings =
            toml::from_str(config).map_err(|e| ConfigError::from_toml(&e, config))?;
        for role in [
            &settings.ma,
            &settings.rn,
            &settings.physician,
            &settings.front_desk,
        ] {
            if site.role(role).is_none() {
                return Err(ConfigError::new(format!(
                    "role {role:?} is not defined by site {:?}; add it to the site's [[roles]] or rename it in this config",
                    site.id
                )));
            }
        }
        Ok(ExamplePolicy { site, settings })
    }

    fn route(
        &mut self,
        item: &RouteItem,
        context: &RouteContext,
    ) -> Result<Assignment, RouteError> {
        let s = &self.settings;
        match (item.category, item.flag) {
            (Category::Refill, _) => Ok(self.refill(item, context)),
            (Category::Result, ResultFlag::Normal) => Ok(assign(
                &s.rn,
                None,
                item.priority,
                "normal-results",
                "normal results go to the nurse pool",
            )),
            (Category::Result, ResultFlag::Critical) => {
                let mut a = self.ordering_physician(
                    item,
                    "critical-results",
                    "critical results go to the ordering physician now",
                )?;
                a.priority = Priority::Stat;
                a.due = Some(context.now.plus_minutes(s.critical_due_minutes));
                Ok(a)
            }
            (Category::Result, _) => self.ordering_physician(
                item,
                "abnormal-results",
                "abnormal results go to the ordering physician",
            ),
            (Category::VisitNote, _) => match &item.rendering {
                Some(person) => Ok(assign(
                    &s.physician,
                    Some(person.clone()),
                    item.priority,
                    "visit-notes",
                    "visit notes go to the rendering clinician",
                )),
                None => Err(RouteError::InvalidItem(
                    "a visit note needs its rendering clinician".into(),
                )),
            },
            _ => Ok(assign(
                &s.front_desk,
                None,
                item.priority,
                "catch-all",
                "everything else goes to the front desk",
            )),
        }
    }
}

impl ExamplePolicy {
    /// Refills go to the least-loaded MA in the PCP's pod, or the MA pool.
    fn refill(&self, item: &RouteItem, context: &RouteContext) -> Assignment {
        let ma_role = &self.settings.ma;
        let pod = item
            .pcp
            .as_deref()
            .and_then(|pcp| self.site.person(pcp))
            .and_then(|p| p.pod.as_deref());
        let person = pod.and_then(|pod| {
            self.site
                .people
                .iter()
                .filter(|p| {
                    p.has_role(ma_role)
                        && p.pod.as_deref() == Some(pod)
                        && !p.is_absent(context.now)
                })
                .min_by_key(|p| (context.load_of(&p.id), p.id.clone()))
                .map(|p| p.id.clone())
        });
        assign(
            ma_role,
            person,
            item.priority,
            "refills",
            "refill requests go to the MA of the PCP's pod",
        )
    }

    fn ordering_physician(
        &self,
        item: &RouteItem,
        rule: &str,
        why: &str,
    ) -> Result<Assignment, RouteError> {
        let person = item.ordering.clone().or_else(|| item.pcp.clone());
        match person {
            Some(p) => Ok(assign(
                &self.settings.physician,
                Some(p),
                item.priority,
                rule,
                why,
            )),
            None => Err(RouteError::InvalidItem(format!(
                "rule {rule} needs the ordering provider or the PCP, and the item has neither"
            ))),
        }
    }
}

fn assign(
    role: &str,
    person: Option<String>,
    priority: Priority,
    rule: &str,
    why: &str,
) -> Assignment {
    Assignment {
        role: role.to_string(),
        person,
        priority,
        due: None,
        reason: format!("rule {rule}: {why}"),
        rule: rule.to_string(),
    }
}

switchboard_sdk::export_policy!(ExamplePolicy);

#[cfg(test)]
mod tests {
    use switchboard_sdk::testing::PolicyHarness;

    use super::*;

    #[test]
    fn case_file_passes() {
        let failures = PolicyHarness::<ExamplePolicy>::run_case_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/cases/defaults.toml"
        ));

        assert!(failures.is_empty(), "{failures:#?}");
    }

    /// The example policy with a `route_into` that disagrees with its
    /// `route`: every outcome it writes goes to the front desk.
    struct Drifted(ExamplePolicy);

    impl Policy for Drifted {
        fn configure(site: Site, config: &str) -> Result<Self, ConfigError> {
            ExamplePolicy::configure(site, config).map(Drifted)
        }

        fn route(
            &mut self,
            item: &RouteItem,
            context: &RouteContext,
        ) -> Result<Assignment, RouteError> {
            self.0.route(item, context)
        }

        fn route_into(
            &mut self,
            items: &[RouteItem],
            _context: &RouteContext,
            out: &mut switchboard_sdk::packed::OutcomeWriter,
        ) {
            for _ in items {
                out.assignment(switchboard_sdk::packed::AssignmentRef {
                    role: "front-desk",
                    person: None,
                    priority: Priority::Routine,
                    due: None,
                    reason: "drifted",
                    rule: "drifted",
                });
            }
        }
    }

    #[test]
    fn case_file_catches_drifted_route_into() {
        let failures = PolicyHarness::<Drifted>::run_case_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/cases/defaults.toml"
        ));

        assert!(!failures.is_empty());
        assert!(
            failures.iter().all(|f| f.contains("route_into wrote")),
            "{failures:#?}"
        );
    }

    #[test]
    fn unknown_role_in_config_is_rejected() {
        let site = include_str!("../../../examples/config/sites/northside.toml");

        let error = PolicyHarness::<ExamplePolicy>::new(
            site,
            "ma = \"scribe\"",
            switchboard_sdk::Timestamp(0),
        )
        .unwrap_err();

        assert!(error.message.contains("\"scribe\""), "{error}");
    }
}
