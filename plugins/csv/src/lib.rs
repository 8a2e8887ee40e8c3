//! CSV connector: maps an in-basket export (one CSV file, content type
//! `text/csv`) to work items, one per row.
//!
//! The first row is the header. The configuration names, by header text,
//! the column that contains each item field and how its values map to
//! Switchboard's categories, flags, priorities and states. Header names are
//! matched without regard to case or surrounding spaces; so are the keys of
//! the value maps.
//!
//! # Outcome of one file
//!
//! - A row that cannot be mapped becomes a [`Reject`] located at its line
//!   (`line 12`, the line where the row starts when a quoted value spans
//!   lines) and naming the column as the header writes it. The other rows
//!   are kept.
//! - The whole file fails with [`ConnectorError::Malformed`] when it has no
//!   header row, when a configured column is missing from the header, or
//!   when it is larger than [`MAX_INPUT_BYTES`]; with
//!   [`ConnectorError::Unsupported`] when its content type is clearly not
//!   CSV (JSON, XML, HL7).
//! - Blank lines are skipped. A row shorter than the header reads the
//!   missing values as empty (some exporters drop trailing empty fields); a
//!   longer row is rejected, because an unquoted delimiter in a value shifts
//!   every column after it.
//!
//! Quoted values may hold the delimiter, doubled quotes (`""`) and line
//! breaks; lines may end in `\n` or `\r\n`; a leading UTF-8 byte order mark
//! is ignored. Parsing uses the `csv` crate, which builds for
//! `wasm32-wasip2`.
//!
//! # Fields
//!
//! | item field | from | when empty |
//! |---|---|---|
//! | `external_id` | `columns.external_id` (required) | row rejected |
//! | `version` | `columns.version` as a whole number, else `columns.updated` as milliseconds since 1970 | 1 |
//! | `category` | `columns.category` through `[categories]`, else the value as a category name (`refill`, `result`, ...) | `default_category`, else row rejected |
//! | `flag` | results only: `columns.flag` through `[flags]`, else the value as a flag name | `unknown` (`none` for other categories) |
//! | `priority` | `columns.priority` through `[priorities]`, else the value as a priority name | `routine` |
//! | `state` | `columns.state` through `[states]`, else `open`, `done` or `cancelled` | `open` |
//! | `title` | `columns.title` | the category name |
//! | `patient`, `encounter`, `ordering`, `rendering`, `pcp` | their columns, verbatim | absent |
//! | `created` | `columns.created` in one of `date_formats` | row rejected; the host's current time when no column is configured |
//! | `due` | `columns.due` in one of `date_formats` | absent |
//! | `attributes` | the `attributes` columns | attribute left out |
//!
//! An unknown category, priority or state value rejects the row naming its
//! column; an unknown flag value reads as `unknown`, as a result flag that is
//! not in a site's table does.
//!
//! # Dates
//!
//! `date_formats` lists strftime formats tried in order (default:
//! `rfc3339`, `%Y-%m-%d %H:%M:%S`, `%Y-%m-%d %H:%M`, `%Y-%m-%d`). A value
//! with an offset is exact; one without is in the site's time zone (or UTC
//! with `local_times = "utc"`); a date alone is local midnight.
//!
//! # Configuration
//!
//! ```toml
//! delimiter = ","              # one ASCII character; "\t" for tab-separated files
//! encoding = "utf-8"           # or "latin-1" for older Windows exports
//! date_formats = ["%m/%d/%Y %I:%M %p", "%m/%d/%Y"]
//! local_times = "site"         # or "utc"
//! default_category = "other"   # for rows whose category is empty
//! attributes = ["Department"]  # or a [attributes] table: key = "Column"
//!
//! [columns]
//! external_id = "Task ID"
//! updated = "Last Modified"
//! category = "Task Type"
//! flag = "Abnormal"
//! priority = "Priority"
//! state = "Status"
//! title = "Subject"
//! patient = "MRN"
//! ordering = "Ordering Provider NPI"
//! pcp = "PCP NPI"
//! created = "Created"
//! due = "Due"
//!
//! [categories]
//! "Rx Renewal" = "refill"
//! "Lab Result" = "result"
//! "FMLA Form" = "form"
//!
//! [flags]
//! H = "abnormal"
//! "Critical" = "critical"
//!
//! [priorities]
//! High = "urgent"
//!
//! [states]
//! Completed = "done"
//! ```

pub mod config;
mod dates;
mod rows;

use std::borrow::Cow;

use switchboard_sdk::{Batch, ConfigError, Connector, ConnectorError, Reject};

pub use config::Settings;

use crate::config::Encoding;
use crate::rows::{Layout, Row};

/// Largest file accepted, in bytes: 32 MiB, several years of a practice's
/// in-basket; a larger export should be split.
pub const MAX_INPUT_BYTES: usize = 32 * 1024 * 1024;

/// Most data rows mapped from one file: 200,000. Rows after it are rejected
/// with one reject naming the line where reading stopped.
pub const MAX_ROWS: usize = 200_000;

/// The CSV connector: configured once, then fed files through
/// [`Connector::accept`]. It is push-only.
#[derive(Debug)]
pub struct CsvConnector {
    settings: Settings,
}

impl CsvConnector {
    /// The configuration in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

impl Connector for CsvConnector {
    fn configure(config: &str) -> Result<Self, ConfigError> {
        Ok(CsvConnector {
            settings: Settings::parse(config)?,
        })
    }

    fn accept(&mut self, message: &[u8], content_type: &str) -> Result<Batch, ConnectorError> {
        check_content_type(content_type)?;
        if message.len() > MAX_INPUT_BYTES {
            return Err(ConnectorError::Malformed(format!(
                "the file is {} bytes long, over the limit of {MAX_INPUT_BYTES} bytes; split the export",
                message.len()
            )));
        }
        let input = message.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(message);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(self.settings.delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut records = reader.byte_records();

        let header = match records.next() {
            Some(Ok(header)) => header,
            Some(Err(error)) => {
                return Err(ConnectorError::Malformed(format!(
                    "the header row could not be read: {error}"
                )));
            }
            None => {
                return Err(ConnectorError::Malformed(
                    "the file is empty: expected a header row naming the columns".to_string(),
                ));
            }
        };
        let headers = decode_record(&header, self.settings.encoding).map_err(|_| {
            ConnectorError::Malformed(
                "the header row is not valid UTF-8; set encoding = \"latin-1\" for this export"
                    .to_string(),
            )
        })?;
        let layout = Layout::resolve(
            headers.into_iter().map(Cow::into_owned).collect(),
            &self.settings,
        )
        .map_err(ConnectorError::Malformed)?;

        let mut batch = Batch::default();
        let mut rows = 0;
        for record in records {
            let line = reader_line(&record);
            let outcome = match self.map_record(record, &layout) {
                Ok(None) => continue,
                outcome => outcome,
            };
            if rows == MAX_ROWS {
                batch.rejects.push(Reject {
                    location: format!("line {line}"),
                    field: "row".to_string(),
                    message: format!("the file has more than {MAX_ROWS} rows; this row and the rest were not read"),
                });
                break;
            }
            rows += 1;
            match outcome {
                Ok(item) => batch.items.extend(item),
                Err(reject) => batch.rejects.push(reject),
            }
        }
        Ok(batch)
    }
}

impl CsvConnector {
    /// Maps one record; `Ok(None)` for a blank line.
    fn map_record(
        &self,
        record: csv::Result<csv::ByteRecord>,
        layout: &Layout,
    ) -> Result<Option<switchboard_sdk::WorkItem>, Reject> {
        let line = reader_line(&record);
        let reject = |field: &str, message: String| Reject {
            location: format!("line {line}"),
            field: field.to_string(),
            message,
        };
        let record =
            record.map_err(|e| reject("row", format!("the row could not be read: {e}")))?;
        if record.len() == 1 && record[0].iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        if record.len() > layout.width() {
            return Err(reject(
                "row",
                format!(
                    "the row has {} values but the header has {} columns; quote values that contain the delimiter",
                    record.len(),
                    layout.width()
                ),
            ));
        }
        let fields = decode_record(&record, self.settings.encoding).map_err(|_| {
            reject(
                "row",
                "the row is not valid UTF-8; set encoding = \"latin-1\" for this export"
                    .to_string(),
            )
        })?;

        let row = Row {
            fields: &fields,
            layout,
            settings: &self.settings,
        };
        row.to_item()
            .map(Some)
            .map_err(|e| reject(&e.column, e.message))
    }
}

/// The line a record starts on (1-based), or 0 when unknown.
fn reader_line(record: &csv::Result<csv::ByteRecord>) -> u64 {
    let position = match record {
        Ok(record) => record.position(),
        Err(error) => error.position(),
    };
    position.map_or(0, csv::Position::line)
}

/// Decodes every field of a record in the file's encoding.
fn decode_record(
    record: &csv::ByteRecord,
    encoding: Encoding,
) -> Result<Vec<Cow<'_, str>>, std::str::Utf8Error> {
    record
        .iter()
        .map(|bytes| match encoding {
            Encoding::Utf8 => std::str::from_utf8(bytes).map(Cow::Borrowed),
            Encoding::Latin1 => Ok(match std::str::from_utf8(bytes) {
                Ok(text) if bytes.is_ascii() => Cow::Borrowed(text),
                _ => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
            }),
        })
        .collect()
}

/// Rejects content types that are certainly not CSV (JSON, XML, HL7).
/// Anything else, including an empty or generic type, is tried.
fn check_content_type(content_type: &str) -> Result<(), ConnectorError> {
    let lower = content_type.to_ascii_lowercase();
    match ["json", "xml", "hl7", "fhir"]
        .iter()
        .find(|f| lower.contains(*f))
    {
        Some(_) => Err(ConnectorError::Unsupported(format!(
            "content type {content_type:?} is not CSV; send text/csv or route this input to another connector"
        ))),
        None => Ok(()),
    }
}

switchboard_sdk::export_connector!(CsvConnector);
