//! The `switchboard` command under another name, for the tests in this crate.

fn main() -> std::process::ExitCode {
    switchboard::cli::main()
}
