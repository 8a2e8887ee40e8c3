//! The header row resolved against the configuration, and one data row
//! mapped to a work item.

use std::borrow::Cow;

use switchboard_sdk::host;
use switchboard_sdk::{Attribute, Category, EhrState, Priority, ResultFlag, Timestamp, WorkItem};
use toml::Spanned;

use crate::config::Settings;
use crate::dates;

/// Column positions found in the header row.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    /// The header names as written, for naming columns in rejects.
    headers: Vec<String>,
    external_id: usize,
    version: Option<usize>,
    updated: Option<usize>,
    category: Option<usize>,
    flag: Option<usize>,
    priority: Option<usize>,
    state: Option<usize>,
    title: Option<usize>,
    patient: Option<usize>,
    encounter: Option<usize>,
    ordering: Option<usize>,
    rendering: Option<usize>,
    pcp: Option<usize>,
    created: Option<usize>,
    due: Option<usize>,
    attributes: Vec<(String, usize)>,
}

impl Layout {
    /// Finds every configured column in `headers`, comparing names without
    /// regard to case or surrounding spaces.
    ///
    /// # Errors
    ///
    /// A sentence naming the first configured column the header lacks and
    /// how many columns it has.
    pub(crate) fn resolve(headers: Vec<String>, settings: &Settings) -> Result<Self, String> {
        let columns = &settings.columns;
        let optional = |column: &Option<Spanned<String>>, key: &str| {
            let key = format!("columns.{key}");
            column
                .as_ref()
                .map(|c| find_column(&headers, c.get_ref(), &key))
                .transpose()
        };

        let external_id = find_column(
            &headers,
            columns.external_id.get_ref(),
            "columns.external_id",
        )?;
        let version = optional(&columns.version, "version")?;
        let updated = optional(&columns.updated, "updated")?;
        let category = optional(&columns.category, "category")?;
        let flag = optional(&columns.flag, "flag")?;
        let priority = optional(&columns.priority, "priority")?;
        let state = optional(&columns.state, "state")?;
        let title = optional(&columns.title, "title")?;
        let patient = optional(&columns.patient, "patient")?;
        let encounter = optional(&columns.encounter, "encounter")?;
        let ordering = optional(&columns.ordering, "ordering")?;
        let rendering = optional(&columns.rendering, "rendering")?;
        let pcp = optional(&columns.pcp, "pcp")?;
        let created = optional(&columns.created, "created")?;
        let due = optional(&columns.due, "due")?;
        let mut attributes = Vec::with_capacity(settings.attributes.len());
        for (key, column) in &settings.attributes {
            let index = find_column(&headers, column, &format!("attribute {key:?}"))?;
            attributes.push((key.clone(), index));
        }

        Ok(Layout {
            headers,
            external_id,
            version,
            updated,
            category,
            flag,
            priority,
            state,
            title,
            patient,
            encounter,
            ordering,
            rendering,
            pcp,
            created,
            due,
            attributes,
        })
    }

    /// The number of columns in the header.
    pub(crate) fn width(&self) -> usize {
        self.headers.len()
    }
}

/// The position of the header column named `name`, compared without
/// regard to case or surrounding spaces. `key` is the config key that names
/// the column, for the error.
///
/// The error gives the number of columns but not their names: a file
/// exported without a header row has patient data in its first row.
fn find_column(headers: &[String], name: &str, key: &str) -> Result<usize, String> {
    let wanted = name.trim().to_lowercase();
    headers
        .iter()
        .position(|h| h.trim().to_lowercase() == wanted)
        .ok_or_else(|| {
            format!(
                "the first row has no column {name:?} (configured as {key}) among its {} columns; \
                 check that the export starts with a header row and that {key} matches one of its names",
                headers.len()
            )
        })
}

/// Why a row was rejected: the column (as the header names it) and what is
/// wrong with its value. The message never quotes the value, which may be
/// patient data. It gives at most the value's length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RowError {
    pub(crate) column: String,
    pub(crate) message: String,
}

/// One data row, its fields decoded.
pub(crate) struct Row<'r> {
    pub(crate) fields: &'r [Cow<'r, str>],
    pub(crate) layout: &'r Layout,
    pub(crate) settings: &'r Settings,
}

impl<'r> Row<'r> {
    /// The trimmed value at `index`, `None` when the column is not
    /// configured, missing from a short row, or empty.
    fn value(&self, index: Option<usize>) -> Option<&'r str> {
        let value = self.fields.get(index?)?.trim();
        (!value.is_empty()).then_some(value)
    }

    fn error(&self, index: usize, message: impl Into<String>) -> RowError {
        RowError {
            column: self.layout.headers[index].trim().to_string(),
            message: message.into(),
        }
    }

    /// Maps the row to a work item.
    ///
    /// # Errors
    ///
    /// A [`RowError`] naming the first column whose value is missing or
    /// cannot be read.
    pub(crate) fn to_item(&self) -> Result<WorkItem, RowError> {
        let layout = self.layout;
        let external_id = self.value(Some(layout.external_id)).ok_or_else(|| {
            self.error(layout.external_id, "the id is empty; every row needs one")
        })?;
        let category = self.category()?;
        let created = match layout.created {
            Some(index) => {
                let text = self
                    .value(Some(index))
                    .ok_or_else(|| self.error(index, "the created time is empty"))?;
                self.date(index, text)?
            }
            None => host::now(),
        };
        let title = self
            .value(layout.title)
            .map_or_else(|| category.as_str().to_string(), str::to_string);

        let mut item = WorkItem::new(external_id, self.version()?, category, title, created);
        item.flag = self.flag(category);
        item.priority = self.mapped(
            layout.priority,
            &self.settings.priorities,
            ("priorities", Priority::ALL),
            Priority::Routine,
        )?;
        item.state = self.mapped(
            layout.state,
            &self.settings.states,
            ("states", EhrState::ALL),
            EhrState::Open,
        )?;
        item.patient = self.value(layout.patient).map(str::to_string);
        item.encounter = self.value(layout.encounter).map(str::to_string);
        item.ordering = self.value(layout.ordering).map(str::to_string);
        item.rendering = self.value(layout.rendering).map(str::to_string);
        item.pcp = self.value(layout.pcp).map(str::to_string);
        item.due = match (layout.due, self.value(layout.due)) {
            (Some(index), Some(text)) => Some(self.date(index, text)?),
            _ => None,
        };
        item.attributes = layout
            .attributes
            .iter()
            .filter_map(|(key, index)| {
                self.value(Some(*index)).map(|value| Attribute {
                    key: key.clone(),
                    value: value.to_string(),
                })
            })
            .collect();
        Ok(item)
    }

    /// The category: the `[categories]` entry for the value, else the value
    /// as a category name, else `default_category` when the value is empty
    /// or the column is not configured.
    fn category(&self) -> Result<Category, RowError> {
        let settings = self.settings;
        let Some(index) = self.layout.category else {
            return settings.default_category.ok_or_else(|| RowError {
                column: "category".to_string(),
                message: "no category column is configured and there is no default_category"
                    .to_string(),
            });
        };
        let Some(value) = self.value(Some(index)) else {
            return settings.default_category.ok_or_else(|| {
                self.error(
                    index,
                    "the category is empty and there is no default_category",
                )
            });
        };
        let key = value.to_lowercase();
        if let Some(category) = settings.categories.get(&key) {
            return Ok(*category);
        }
        key.parse::<Category>().map_err(|_| {
            self.error(
                index,
                format!(
                    "not a known category (found {} characters): expected one of {} or a key under [categories]",
                    value.chars().count(),
                    known_names(Category::ALL)
                ),
            )
        })
    }

    /// The flag of a result row: the `[flags]` entry, else the value as a
    /// flag name, else unknown. Rows of other categories have no flag.
    fn flag(&self, category: Category) -> ResultFlag {
        if category != Category::Result {
            return ResultFlag::None;
        }
        let Some(value) = self.value(self.layout.flag) else {
            return ResultFlag::Unknown;
        };
        let key = value.to_lowercase();
        let named = key
            .parse::<ResultFlag>()
            .ok()
            .filter(|f| *f != ResultFlag::None);
        self.settings
            .flags
            .get(&key)
            .copied()
            .or(named)
            .unwrap_or(ResultFlag::Unknown)
    }

    /// A value read through a value map, else as a WIT name; `default` when
    /// empty.
    fn mapped<T: Copy + std::str::FromStr + std::fmt::Display>(
        &self,
        index: Option<usize>,
        map: &std::collections::HashMap<String, T>,
        (table, names): (&str, &[T]),
        default: T,
    ) -> Result<T, RowError> {
        let (Some(index), Some(value)) = (index, self.value(index)) else {
            return Ok(default);
        };
        let key = value.to_lowercase();
        if let Some(mapped) = map.get(&key) {
            return Ok(*mapped);
        }
        key.parse::<T>().map_err(|_| {
            self.error(
                index,
                format!(
                    "not a known value (found {} characters): expected one of {} or a key under [{table}]",
                    value.chars().count(),
                    known_names(names)
                ),
            )
        })
    }

    /// The version: the `version` column as a whole number, else the
    /// `updated` time in milliseconds, else 1.
    fn version(&self) -> Result<u64, RowError> {
        let layout = self.layout;
        if let (Some(index), Some(text)) = (layout.version, self.value(layout.version)) {
            return text.parse::<u64>().map_err(|_| {
                self.error(
                    index,
                    format!(
                        "not a whole number: expected the version as digits 0-9, found {} characters",
                        text.chars().count()
                    ),
                )
            });
        }
        if let (Some(index), Some(text)) = (layout.updated, self.value(layout.updated)) {
            let at = self.date(index, text)?;
            return Ok(u64::try_from(at.0).unwrap_or(0).max(1));
        }
        Ok(1)
    }

    fn date(&self, index: usize, text: &str) -> Result<Timestamp, RowError> {
        dates::parse(text, &self.settings.date_formats, self.settings.local_times)
            .map_err(|message| self.error(index, message))
    }
}

/// Joins the names of `cases` with commas, for an error.
fn known_names<T: std::fmt::Display>(cases: &[T]) -> String {
    let names: Vec<String> = cases.iter().map(ToString::to_string).collect();
    names.join(", ")
}
