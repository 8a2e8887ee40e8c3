//! A routing policy driven by a rule table that an administrator edits in
//! TOML, without compiling anything.
//!
//! Each `[[rule]]` has conditions (`when`) and an assignment (`role` and how
//! to pick a person). The first rule whose conditions match an item decides.
//! The table must end with a catch-all rule without `when`. See `README.md`
//! beside this crate for the format and `defaults.toml` for the table a
//! primary-care practice starts from, used when the config text is empty.
//!
//! At `configure` the table is validated against the site's roster, and an
//! unknown role or person is rejected with the rule's name. CEL conditions
//! are compiled once there too. The rules are indexed by category and result
//! flag, so routing tests only the rules that can match.

mod cel_condition;
mod compile;
mod error;
mod index;
mod roster;
mod rule;
mod schema;
mod table;

use switchboard_sdk::host::{self, Level};
use switchboard_sdk::packed::OutcomeWriter;
use switchboard_sdk::{Assignment, ConfigError, Policy, RouteContext, RouteError, RouteItem, Site};

pub use error::{TableError, TableErrorKind};

use table::{Batch, Table};

/// The table a primary-care practice starts from; used when the config text
/// is empty or only whitespace and comments.
pub const DEFAULT_TABLE: &str = include_str!("../defaults.toml");

/// Maximum number of rules in a table. Through wasmtime 48, a table of
/// 2,000 plain rules configured within 16 MiB of guest memory and one of
/// 5,000 within 32 MiB (the manifest's limit), so this leaves room for CEL
/// conditions and longer reasons.
pub const MAX_RULES: usize = 2_000;

/// The table-driven routing policy.
#[derive(Debug)]
pub struct TablePolicy {
    table: Table,
}

impl TablePolicy {
    /// Compiles `text` (a rule table in TOML) for `site`. An empty text
    /// compiles [`DEFAULT_TABLE`].
    ///
    /// # Errors
    ///
    /// A [`TableError`] naming the rule and the value at fault, with the byte
    /// span in `text` it refers to.
    pub fn compile(site: &Site, text: &str) -> Result<Self, TableError> {
        let text = effective_text(text);
        compile::compile(site, text).map(|table| TablePolicy { table })
    }

    /// Returns the rule names in table order.
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.table.rules.iter().map(|r| r.name.as_str())
    }
}

/// Chooses the config text to compile: the defaults when `text` contains no
/// TOML statement.
fn effective_text(text: &str) -> &str {
    let has_statement = text.lines().any(|line| {
        let line = line.trim();
        !line.is_empty() && !line.starts_with('#')
    });
    if has_statement { text } else { DEFAULT_TABLE }
}

impl Policy for TablePolicy {
    fn configure(site: Site, config: &str) -> Result<Self, ConfigError> {
        let policy = TablePolicy::compile(&site, config)
            .map_err(|e| e.to_config_error(effective_text(config)))?;

        let table = &policy.table;
        let rules = table.rules.len().to_string();
        let cel_rules = table.cel_rules().to_string();
        let source = if effective_text(config) == DEFAULT_TABLE {
            "defaults"
        } else {
            "config"
        };
        host::log(
            Level::Info,
            "routing table configured",
            &[
                ("site", &table.site),
                ("rules", &rules),
                ("cel_rules", &cel_rules),
                ("source", source),
            ],
        );
        for rule in &table.rules {
            for role in &rule.roles {
                if table.roster.members(*role).is_empty() {
                    host::log(
                        Level::Warn,
                        "a rule routes to a role nobody holds; its items will fail with no-owner",
                        &[
                            ("rule", &rule.name),
                            ("role", table.roster.role_name(*role)),
                        ],
                    );
                }
            }
        }
        Ok(policy)
    }

    fn route(
        &mut self,
        item: &RouteItem,
        context: &RouteContext,
    ) -> Result<Assignment, RouteError> {
        let mut batch = Batch::new(context);
        self.table
            .route(item, &mut batch)
            .map(|assignment| assignment.to_assignment())
    }

    /// Routes the batch with one view of load and absences, counting each
    /// assignment toward the load seen by the items after it.
    fn route_batch(
        &mut self,
        items: &[RouteItem],
        context: &RouteContext,
    ) -> Vec<Result<Assignment, RouteError>> {
        let mut batch = Batch::new(context);
        items
            .iter()
            .map(|item| {
                self.table
                    .route(item, &mut batch)
                    .map(|assignment| assignment.to_assignment())
            })
            .collect()
    }

    /// As `route_batch`, but writes each assignment straight from the
    /// table's names.
    fn route_into(&mut self, items: &[RouteItem], context: &RouteContext, out: &mut OutcomeWriter) {
        let mut batch = Batch::new(context);
        for item in items {
            match self.table.route(item, &mut batch) {
                Ok(assignment) => out.assignment(assignment),
                Err(error) => out.error(&error),
            }
        }
    }
}

switchboard_sdk::export_policy!(TablePolicy);
