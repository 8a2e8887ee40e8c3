//! CEL (Common Expression Language) conditions: compiled once at
//! `configure`, evaluated against one item at a time.
//!
//! An expression sees four variables:
//!
//! - `item`: a map with `key` (int), `category`, `flag` and `priority` (the
//!   kebab-case names used in the table), `patient`, `ordering`, `rendering`
//!   and `pcp` (roster ids, present only when the item has them; test with
//!   `has(item.pcp)`) and `attributes` (a map of strings; test with
//!   `"loinc" in item.attributes`).
//! - `age_minutes`: whole minutes since the item was created (int).
//! - `roster`: `people` (id → `{roles, pod}`; `pod` only when set), `roles`
//!   (role → list of ids), `pods` (pod → list of ids) and `clinicians` (ids of
//!   people holding a clinician role).
//! - `absent`: ids of the people absent at the routing time.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use cel::common::types::{CelInt, CelList, CelMap, CelMapKey, CelString};
use cel::common::value::Val;
use cel::objects::{Key, Map};
use cel::{Context, ExecutionError, Program, Value};
use switchboard_sdk::{RouteItem, Site, Timestamp};

use crate::roster::Roster;

/// The variables an expression may use.
pub(crate) const VARIABLES: [&str; 4] = ["item", "age_minutes", "roster", "absent"];

/// CEL's own type names, which an expression may use as identifiers, as in
/// `type(x) == string`.
const TYPE_NAMES: [&str; 10] = [
    "bool",
    "bytes",
    "double",
    "int",
    "list",
    "map",
    "null_type",
    "string",
    "type",
    "uint",
];

/// A compiled expression.
pub(crate) struct CelCondition {
    program: Program,
    source: String,
}

impl fmt::Debug for CelCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CelCondition")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Why an expression does not compile, with a 1-based position inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CompileError {
    Syntax {
        message: String,
        line: u32,
        column: u32,
    },
    UnknownVariable {
        name: String,
        line: u32,
        column: u32,
    },
    UnavailableFunction {
        name: String,
        line: u32,
        column: u32,
    },
}

impl CompileError {
    pub(crate) fn position(&self) -> (u32, u32) {
        match self {
            CompileError::Syntax { line, column, .. }
            | CompileError::UnknownVariable { line, column, .. }
            | CompileError::UnavailableFunction { line, column, .. } => (*line, *column),
        }
    }
}

impl CelCondition {
    /// Parses `source` and checks that it uses only the routing variables.
    pub(crate) fn compile(source: &str) -> Result<Self, CompileError> {
        let program = Program::compile(source).map_err(|errors| {
            let first = errors.errors.first();
            let (line, column) = first.map_or((1, 1), |e| {
                (clamp_position(e.pos.0), clamp_position(e.pos.1))
            });
            let message = first.map_or_else(|| errors.to_string(), |e| e.msg.clone());
            CompileError::Syntax {
                message,
                line,
                column,
            }
        })?;

        let position = |id: u64| {
            let offset = program
                .source_info()
                .offset_for(id)
                .map_or(0, |(start, _)| start as usize);
            switchboard_sdk::line_column(source, char_to_byte(source, offset))
        };
        let mut scope = Vec::new();
        if let Some((name, id)) = unknown_identifier(program.expression(), &mut scope) {
            let (line, column) = position(id);
            return Err(CompileError::UnknownVariable { name, line, column });
        }
        if let Some((name, id)) = unavailable_function(program.expression()) {
            let (line, column) = position(id);
            return Err(CompileError::UnavailableFunction { name, line, column });
        }

        Ok(CelCondition {
            program,
            source: source.to_string(),
        })
    }

    /// Evaluates the expression in `scope`.
    ///
    /// # Errors
    ///
    /// A description of the failure (an evaluation error or a result that is
    /// not a bool) naming keys, functions and types but no values, so it is
    /// safe to log.
    pub(crate) fn evaluate(&self, scope: &Context<'_, '_>) -> Result<bool, String> {
        match self.program.execute(scope) {
            Ok(Value::Bool(result)) => Ok(result),
            Ok(other) => Err(format!(
                "the expression returned a value of type {} instead of a bool",
                other.type_of()
            )),
            Err(error) => Err(describe(&error)),
        }
    }
}

fn clamp_position(value: isize) -> u32 {
    u32::try_from(value.max(1)).unwrap_or(1)
}

/// CEL reports source offsets in characters; `line_column` takes bytes.
fn char_to_byte(text: &str, chars: usize) -> usize {
    text.char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| i)
}

/// The first identifier that is neither a routing variable, a CEL type name
/// nor a variable bound by an enclosing comprehension (`exists`, `all`,
/// `map`, `filter`), with its expression id.
fn unknown_identifier(expr: &IdedExpr, scope: &mut Vec<String>) -> Option<(String, u64)> {
    match &expr.expr {
        Expr::Ident(name) => {
            let known = name.starts_with('@')
                || VARIABLES.contains(&name.as_str())
                || TYPE_NAMES.contains(&name.as_str())
                || scope.iter().any(|s| s == name);
            (!known).then(|| (name.clone(), expr.id))
        }
        Expr::Call(call) => call
            .target
            .iter()
            .map(|t| t.as_ref())
            .chain(call.args.iter())
            .find_map(|e| unknown_identifier(e, scope)),
        Expr::Select(select) => unknown_identifier(&select.operand, scope),
        Expr::List(list) => list
            .elements
            .iter()
            .find_map(|e| unknown_identifier(e, scope)),
        Expr::Map(map) => map
            .entries
            .iter()
            .find_map(|entry| entry_identifier(&entry.expr, scope)),
        Expr::Struct(structure) => structure
            .entries
            .iter()
            .find_map(|entry| entry_identifier(&entry.expr, scope)),
        Expr::Comprehension(comprehension) => {
            if let Some(found) = unknown_identifier(&comprehension.iter_range, scope) {
                return Some(found);
            }
            let depth = scope.len();
            scope.push(comprehension.iter_var.clone());
            scope.extend(comprehension.iter_var2.clone());
            scope.push(comprehension.accu_var.clone());
            let found = [
                &comprehension.accu_init,
                &comprehension.loop_cond,
                &comprehension.loop_step,
                &comprehension.result,
            ]
            .into_iter()
            .find_map(|e| unknown_identifier(e, scope));
            scope.truncate(depth);
            found
        }
        Expr::Literal(_) | Expr::Unspecified => None,
    }
}

/// Standard CEL functions this build leaves out. `matches` needs the
/// `regex` feature of the `cel` crate, which is off to keep the component
/// small (see the workspace `Cargo.toml`). Without this check a rule that
/// calls it would fail on every item at routing time instead of at
/// `configure`.
pub(crate) const UNAVAILABLE_FUNCTIONS: [&str; 1] = ["matches"];

/// The first call of a function in [`UNAVAILABLE_FUNCTIONS`], with its
/// expression id.
fn unavailable_function(expr: &IdedExpr) -> Option<(String, u64)> {
    let children: Vec<&IdedExpr> = match &expr.expr {
        Expr::Call(call) => {
            if UNAVAILABLE_FUNCTIONS.contains(&call.func_name.as_str()) {
                return Some((call.func_name.clone(), expr.id));
            }
            call.target
                .iter()
                .map(|t| t.as_ref())
                .chain(call.args.iter())
                .collect()
        }
        Expr::Select(select) => vec![&select.operand],
        Expr::List(list) => list.elements.iter().collect(),
        Expr::Map(map) => map
            .entries
            .iter()
            .flat_map(|e| entry_children(&e.expr))
            .collect(),
        Expr::Struct(structure) => structure
            .entries
            .iter()
            .flat_map(|e| entry_children(&e.expr))
            .collect(),
        Expr::Comprehension(c) => vec![
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ],
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => Vec::new(),
    };
    children.into_iter().find_map(unavailable_function)
}

fn entry_children(entry: &EntryExpr) -> Vec<&IdedExpr> {
    match entry {
        EntryExpr::StructField(field) => vec![&field.value],
        EntryExpr::MapEntry(entry) => vec![&entry.key, &entry.value],
    }
}

fn entry_identifier(entry: &EntryExpr, scope: &mut Vec<String>) -> Option<(String, u64)> {
    match entry {
        EntryExpr::StructField(field) => unknown_identifier(&field.value, scope),
        EntryExpr::MapEntry(entry) => unknown_identifier(&entry.key, scope)
            .or_else(|| unknown_identifier(&entry.value, scope)),
    }
}

/// Describes an evaluation error without the values involved, which may be
/// attribute values from the EHR.
fn describe(error: &ExecutionError) -> String {
    match error {
        ExecutionError::NoSuchKey(key) => {
            format!("no such key {key:?}; test for it first with `has()` or `in`")
        }
        ExecutionError::UndeclaredReference(name) => format!("undeclared reference to {name:?}"),
        ExecutionError::UnexpectedType { got, want } => {
            format!("unexpected type {got}, expected {want}")
        }
        ExecutionError::NoSuchOverload(overload) => overload.to_string(),
        ExecutionError::InvalidArgumentCount { expected, actual } => {
            format!("a function expected {expected} arguments and got {actual}")
        }
        ExecutionError::FunctionError { function, .. } => format!("function {function} failed"),
        ExecutionError::UnsupportedBinaryOperator(operator, ..) => {
            format!("operator {operator} does not apply to these types")
        }
        ExecutionError::ValuesNotComparable(..) => {
            "values of different types cannot be compared".to_string()
        }
        ExecutionError::DivisionByZero(_) | ExecutionError::RemainderByZero(_) => {
            "division by zero".to_string()
        }
        ExecutionError::Overflow(operator, ..) => format!("integer overflow in {operator}"),
        ExecutionError::IndexOutOfBounds(_) => "list index out of bounds".to_string(),
        _ => "evaluation failed on a value of an unsupported type".to_string(),
    }
}

/// What CEL evaluation needs besides the item: the standard functions and
/// the roster, both built once per configuration.
pub(crate) struct CelRuntime {
    /// The standard functions plus `roster`. Binding a variable converts it
    /// to CEL's internal form, which for the roster costs over 10 µs, so it is
    /// bound here once rather than per item.
    root: Context<'static, 'static>,
}

impl fmt::Debug for CelRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CelRuntime").finish_non_exhaustive()
    }
}

impl CelRuntime {
    pub(crate) fn new(site: &Site, roster: &Roster) -> Self {
        let mut root = Context::default();
        root.add_variable_from_value("roster", roster_value(site, roster));
        CelRuntime { root }
    }

    /// A scope holding the variables for one item. Strings in it borrow from
    /// the item and the roster instead of being copied.
    pub(crate) fn scope<'a>(
        &'a self,
        item: &'a RouteItem,
        age_minutes: i64,
        roster: &'a Roster,
        now: Timestamp,
    ) -> Context<'a, 'a> {
        let root: &'a Context<'a, 'a> = &self.root;
        let mut scope = root.new_inner_scope();
        scope.add_variable_as_val("item", Box::new(item_val(item)));
        scope.add_variable_as_val("age_minutes", Box::new(CelInt::from(age_minutes)));
        scope.add_variable_as_val("absent", Box::new(absent_val(roster, now)));
        scope
    }
}

/// The ids of the people absent at `now`, as a CEL list.
fn absent_val(roster: &Roster, now: Timestamp) -> CelList<'_> {
    let ids: Vec<Box<dyn Val + '_>> = roster
        .people
        .iter()
        .filter(|m| m.is_absent(now))
        .map(|m| string_val(&m.person.id))
        .collect();
    CelList::from(ids)
}

fn item_val(item: &RouteItem) -> CelMap<'_> {
    let mut fields: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> = HashMap::with_capacity(10);
    fields.insert(
        CelMapKey::from("key"),
        Box::new(CelInt::from(i64::try_from(item.key).unwrap_or(i64::MAX))),
    );
    fields.insert(
        CelMapKey::from("category"),
        string_val(item.category.as_str()),
    );
    fields.insert(CelMapKey::from("flag"), string_val(item.flag.as_str()));
    fields.insert(
        CelMapKey::from("priority"),
        string_val(item.priority.as_str()),
    );
    let optional = [
        ("patient", &item.patient),
        ("ordering", &item.ordering),
        ("rendering", &item.rendering),
        ("pcp", &item.pcp),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            fields.insert(CelMapKey::from(name), string_val(value));
        }
    }

    let mut attributes: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> =
        HashMap::with_capacity(item.attributes.len());
    for attribute in &item.attributes {
        // The first attribute with a key wins, as in the plain conditions.
        attributes
            .entry(CelMapKey::from(attribute.key.as_str()))
            .or_insert_with(|| string_val(&attribute.value));
    }
    fields.insert(
        CelMapKey::from("attributes"),
        Box::new(CelMap::from(attributes)),
    );

    CelMap::from(fields)
}

fn string_val(text: &str) -> Box<dyn Val + '_> {
    Box::new(CelString::from(text))
}

fn roster_value(site: &Site, roster: &Roster) -> Value {
    let mut people = HashMap::new();
    let mut pods: HashMap<Key, Vec<Value>> = HashMap::new();
    for member in &roster.people {
        let mut fields = HashMap::new();
        let roles = member
            .roles
            .iter()
            .map(|r| string(roster.role_name(*r)))
            .collect();
        fields.insert(key("roles"), Value::List(Arc::new(roles)));
        if let Some(pod) = &member.person.pod {
            fields.insert(key("pod"), string(pod));
            pods.entry(key(pod))
                .or_default()
                .push(string(&member.person.id));
        }
        people.insert(key(&member.person.id), map(fields));
    }

    let mut roles = HashMap::new();
    for entry in &roster.roles {
        let ids = entry
            .members
            .iter()
            .map(|p| string(roster.id_of(*p)))
            .collect();
        roles.insert(key(&entry.name), Value::List(Arc::new(ids)));
    }

    let clinician_roles: Vec<&str> = site
        .roles
        .iter()
        .filter(|r| r.clinician)
        .map(|r| r.name.as_str())
        .collect();
    let clinicians = site
        .people
        .iter()
        .filter(|p| {
            p.roles
                .iter()
                .any(|r| clinician_roles.contains(&r.as_str()))
        })
        .map(|p| string(&p.id))
        .collect();

    let mut fields = HashMap::new();
    fields.insert(key("people"), map(people));
    fields.insert(key("roles"), map(roles));
    fields.insert(
        key("pods"),
        map(pods
            .into_iter()
            .map(|(k, v)| (k, Value::List(Arc::new(v))))
            .collect()),
    );
    fields.insert(key("clinicians"), Value::List(Arc::new(clinicians)));
    map(fields)
}

fn key(text: &str) -> Key {
    Key::String(Arc::new(text.to_string()))
}

fn string(text: &str) -> Value {
    Value::String(Arc::new(text.to_string()))
}

fn map(entries: HashMap<Key, Value>) -> Value {
    Value::Map(Map {
        map: Arc::new(entries),
    })
}
