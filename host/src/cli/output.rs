//! Standard output for command results, with a quiet exit when the reader
//! goes away.
//!
//! Rust ignores `SIGPIPE`, so a write to a pipe whose reader has exited
//! (`switchboard report … | head`) fails with `BrokenPipe`, and `println!`
//! turns that into a panic. Commands write through [`stdout`] or [`outln!`]
//! instead: the failure comes back as an error, [`closed`] records that it
//! was standard output that went away, and `cli::main` then exits with
//! status 0 and no message, because the reader chose to stop reading. The
//! rest of the output is lost, which is what the reader asked for.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes one formatted line to standard output, like `println!`, and
/// returns `std::io::Result<()>` instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {
        ::std::io::Write::write_fmt(
            &mut $crate::cli::output::stdout(),
            format_args!("{}\n", format_args!($($arg)*)),
        )
    };
}
pub(crate) use outln;

/// Standard output, locked for the life of the value. A `BrokenPipe`
/// error from a write or flush is returned as usual and also recorded for
/// [`closed`].
#[derive(Debug)]
pub struct Stdout(io::StdoutLock<'static>);

/// Locks standard output.
pub fn stdout() -> Stdout {
    Stdout(io::stdout().lock())
}

/// True once a write to standard output failed because its reader closed
/// the pipe.
pub fn closed() -> bool {
    CLOSED.load(Ordering::SeqCst)
}

fn record<T>(result: io::Result<T>) -> io::Result<T> {
    if let Err(error) = &result
        && error.kind() == io::ErrorKind::BrokenPipe
    {
        CLOSED.store(true, Ordering::SeqCst);
    }
    result
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        record(self.0.write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        record(self.0.write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        record(self.0.flush())
    }
}
