//! Report output: plain-text tables for the terminal, CSV, and SVG charts.

mod csv;
mod svg;
mod table;

#[cfg(test)]
mod tests;

pub use csv::{COMPARISON_HEADER, REPORT_HEADER, comparison_csv, escape_field, report_csv};
pub use svg::{Band, Series, SeriesChart, comparison_svg, escape_xml, series_svg};
pub use table::{comparison_table, format_change, report_table, roi_text};
