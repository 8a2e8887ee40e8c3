//! A progress line for long commands on a terminal.
//!
//! The line goes to standard error and is redrawn in place with `\r`:
//! counts at most [`MIN_REDRAW`] apart, a new step description at once. It
//! ends with a newline. When standard error is not a terminal (a pipe, a
//! file, a test), nothing is written at all, so captured output stays as
//! it was.

use std::io::{IsTerminal, Stderr, Write};
use std::time::{Duration, Instant};

/// Shortest time between two redraws: ten a second looks live without
/// spending noticeable time on the terminal.
pub const MIN_REDRAW: Duration = Duration::from_millis(100);

/// A progress line of `done` out of `total` units, such as log records.
///
/// A failed write switches the line off without an error, because progress
/// must not fail the command.
#[derive(Debug)]
pub struct Progress<W: Write> {
    out: W,
    enabled: bool,
    label: String,
    unit: String,
    total: u64,
    done: u64,
    detail: String,
    last_draw: Option<Instant>,
    /// True when an update was skipped since the last draw.
    stale: bool,
    /// Characters of the line on screen, to blank out what a shorter line
    /// leaves behind.
    drawn_width: usize,
}

impl Progress<Stderr> {
    /// Creates a line on standard error, drawn only when it is a terminal.
    pub fn stderr(label: &str, unit: &str, total: u64) -> Self {
        let terminal = std::io::stderr().is_terminal();
        Progress::new(std::io::stderr(), terminal, label, unit, total)
    }
}

impl<W: Write> Progress<W> {
    /// Creates a line on `out`. With `terminal` false, every call does
    /// nothing.
    pub fn new(out: W, terminal: bool, label: &str, unit: &str, total: u64) -> Self {
        Progress {
            out,
            enabled: terminal,
            label: label.to_string(),
            unit: unit.to_string(),
            total,
            done: 0,
            detail: String::new(),
            last_draw: None,
            stale: false,
            drawn_width: 0,
        }
    }

    /// Records `done` units and redraws unless the last draw was less than
    /// [`MIN_REDRAW`] ago.
    pub fn set(&mut self, done: u64) {
        self.set_at(done, Instant::now());
    }

    /// Records `done` units and a description of the step now running.
    /// A new description is drawn at once, without waiting for
    /// [`MIN_REDRAW`], because the step it names may run for long. An
    /// unchanged description redraws as [`Progress::set`] does.
    pub fn set_step(&mut self, done: u64, detail: &str) {
        self.set_step_at(done, detail, Instant::now());
    }

    /// Changes the number of units expected, for work that learns it late.
    pub fn set_total(&mut self, total: u64) {
        self.total = total;
    }

    /// Draws the final count, unless it is already on screen, and ends the
    /// line; later calls do nothing. Does nothing when no line is shown.
    pub fn finish(&mut self) {
        if !self.enabled {
            return;
        }
        if self.stale || self.last_draw.is_none() {
            self.draw();
        }
        self.write(b"\n");
        self.enabled = false;
    }

    /// Runs [`Progress::set`] at a given instant, so tests control time.
    fn set_at(&mut self, done: u64, now: Instant) {
        self.done = done;
        let due = self
            .last_draw
            .is_none_or(|last| now.saturating_duration_since(last) >= MIN_REDRAW);
        if !self.enabled {
            return;
        }
        if due {
            self.last_draw = Some(now);
            self.draw();
        }
        self.stale = !due;
    }

    /// Runs [`Progress::set_step`] at a given instant, so tests control
    /// time.
    fn set_step_at(&mut self, done: u64, detail: &str, now: Instant) {
        if self.detail != detail {
            detail.clone_into(&mut self.detail);
            self.last_draw = None;
        }
        self.set_at(done, now);
    }

    /// Formats the line, without `\r` or padding.
    fn line(&self) -> String {
        let mut line = format!("{}: {}/{} {}", self.label, self.done, self.total, self.unit);
        if let Some(percent) = self
            .done
            .min(self.total)
            .saturating_mul(100)
            .checked_div(self.total)
        {
            line.push_str(&format!(" ({percent}%)"));
        }
        if !self.detail.is_empty() {
            line.push_str(&format!(", {}", self.detail));
        }
        line
    }

    fn draw(&mut self) {
        let line = self.line();
        let width = line.chars().count();
        let padding = " ".repeat(self.drawn_width.saturating_sub(width));
        self.drawn_width = width;
        self.write(format!("\r{line}{padding}").as_bytes());
    }

    fn write(&mut self, bytes: &[u8]) {
        if self
            .out
            .write_all(bytes)
            .and_then(|()| self.out.flush())
            .is_err()
        {
            self.enabled = false;
        }
    }
}

impl<W: Write> Drop for Progress<W> {
    /// Ends a line left open by an early return, so an error message that
    /// follows starts on a line of its own.
    fn drop(&mut self) {
        if self.enabled && self.last_draw.is_some() {
            self.write(b"\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn nothing_is_written_off_a_terminal() {
        let mut out = Vec::new();
        let mut progress = Progress::new(&mut out, false, "rebuild", "records", 10);

        progress.set(3);
        progress.set_step(10, "done");
        progress.finish();
        drop(progress);

        assert!(out.is_empty());
    }

    #[test]
    fn line_shows_count_percent_and_step() {
        let mut out = Vec::new();
        let mut progress = Progress::new(&mut out, true, "report", "steps", 8);

        progress.set_step(2, "pilot range");
        drop(progress);

        assert_eq!(
            output(&out),
            "\rreport: 2/8 steps (25%), pilot range\n",
            "the drop ends the line"
        );
    }

    #[test]
    fn updates_within_redraw_interval_are_skipped() {
        let mut out = Vec::new();
        let mut progress = Progress::new(&mut out, true, "rebuild", "records", 1000);
        let start = Instant::now();

        progress.set_at(1, start);
        progress.set_at(2, start + Duration::from_millis(50));
        progress.set_at(3, start + Duration::from_millis(99));
        progress.set_at(4, start + Duration::from_millis(100));
        progress.set_at(5, start + Duration::from_millis(150));
        progress.finish();
        drop(progress);

        assert_eq!(
            output(&out),
            "\rrebuild: 1/1000 records (0%)\
             \rrebuild: 4/1000 records (0%)\
             \rrebuild: 5/1000 records (0%)\n"
        );
    }

    #[test]
    fn finish_draws_final_count_once() {
        let mut out = Vec::new();
        let mut progress = Progress::new(&mut out, true, "rebuild", "records", 40);
        let start = Instant::now();

        progress.set_at(10, start);
        progress.set_at(40, start + Duration::from_millis(10));
        progress.finish();
        drop(progress);

        assert_eq!(
            output(&out),
            "\rrebuild: 10/40 records (25%)\rrebuild: 40/40 records (100%)\n"
        );
    }

    #[test]
    fn new_step_is_drawn_at_once() {
        let mut out = Vec::new();
        let mut progress = Progress::new(&mut out, true, "report", "steps", 4);
        let start = Instant::now();

        progress.set_step_at(1, "baseline", start);
        progress.set_step_at(1, "baseline", start + Duration::from_millis(1));
        progress.set_step_at(2, "pilot", start + Duration::from_millis(2));
        drop(progress);

        assert_eq!(
            output(&out),
            "\rreport: 1/4 steps (25%), baseline\rreport: 2/4 steps (50%), pilot   \n"
        );
    }

    #[test]
    fn shorter_line_blanks_the_rest() {
        let mut out = Vec::new();
        let mut progress = Progress::new(&mut out, true, "report", "steps", 3);
        let start = Instant::now();

        progress.set_step_at(0, "reading the store", start);
        progress.set_step_at(1, "pilot", start + MIN_REDRAW);
        progress.finish();
        drop(progress);

        let text = output(&out);
        let lines: Vec<&str> = text.trim_end_matches('\n').split('\r').collect();
        assert_eq!(lines[1], "report: 0/3 steps (0%), reading the store");
        assert_eq!(
            lines[2],
            format!("report: 1/3 steps (33%), pilot{}", " ".repeat(41 - 30)),
            "spaces cover the 41 characters of the longer line"
        );
        assert_eq!(lines.len(), 3, "finish draws nothing new: {text:?}");
    }

    #[test]
    fn empty_total_has_no_percent() {
        let mut out = Vec::new();
        let mut progress = Progress::new(&mut out, true, "rebuild", "records", 0);

        progress.finish();
        drop(progress);

        assert_eq!(output(&out), "\rrebuild: 0/0 records\n");
    }
}
