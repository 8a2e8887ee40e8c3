//! The `switchboard` command line.
//!
//! Each subcommand lives in its own module and returns `anyhow::Result`; this
//! module parses arguments, sets up logging and turns an error into a message
//! on standard error and exit status 1.

mod backfill;
mod bench;
mod connector_run;
mod demo;
mod output;
mod plugin_check;
mod policy_route;
mod progress;
mod report;
mod serve;
mod shadow;
mod simulate;
mod store;
mod tls;
mod token;

pub use connector_run::content_type_for;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Switchboard routes open EHR work to the role that should own it.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about)]
pub struct Cli {
    /// Log format on standard error.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a sample practice on built-in data and print the result.
    Demo(demo::DemoArgs),
    /// Run the host: connectors, routing, nudges and the HTTP API.
    Serve {
        /// Configuration folder (contains switchboard.toml, sites/ and plugins/).
        #[arg(long)]
        config: PathBuf,
    },
    /// Check and inspect plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Policy author's test bench.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Connector vendor's test bench.
    #[command(subcommand)]
    Connector(ConnectorCommand),
    /// Offline store maintenance (stop `serve` first).
    #[command(subcommand)]
    Store(StoreCommand),
    /// Shadow-mode reports and promotion.
    #[command(subcommand)]
    Shadow(ShadowCommand),
    /// Read a site's history through its connector to measure a baseline.
    Backfill {
        /// Configuration folder.
        #[arg(long)]
        config: PathBuf,
        /// Site id.
        #[arg(long)]
        site: String,
        /// First day to read, YYYY-MM-DD in the site's time zone.
        #[arg(long)]
        since: String,
    },
    /// Generate simulated clinic days and compare routing against a baseline.
    Simulate(simulate::SimulateArgs),
    /// Backlog KPIs over a baseline range and a pilot range (stop `serve` first).
    Report(report::ReportArgs),
    /// Make API tokens and the hashes switchboard.toml stores.
    #[command(subcommand)]
    Token(TokenCommand),
}

/// `switchboard token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a new random token and its SHA-256 for switchboard.toml.
    New,
    /// Print the SHA-256 of a token as switchboard.toml expects it.
    Hash {
        /// The token. Read from standard input when absent, which keeps it
        /// out of the shell history and the process list.
        token: Option<String>,
    },
}

/// `switchboard plugin …`
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Validate a component and its manifest without starting a server.
    Check {
        /// A plugin folder, or a `.wasm` file with `plugin.toml` beside it.
        path: PathBuf,
    },
    /// Check a plugin and copy it into a configuration folder's plugins/.
    Install {
        /// A plugin folder, or a `.wasm` file with `plugin.toml` beside it.
        #[arg(required_unless_present = "bundled")]
        path: Option<PathBuf>,
        /// Install every plugin shipped inside this binary instead.
        #[arg(long, conflicts_with = "path")]
        bundled: bool,
        /// Configuration folder.
        #[arg(long)]
        config: PathBuf,
    },
}

/// `switchboard policy …`
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Route work items (JSON lines) and print one assignment per line.
    Route(policy_route::RouteArgs),
}

/// `switchboard connector …`
#[derive(Debug, Subcommand)]
pub enum ConnectorCommand {
    /// Run a connector on files (or standard input) and print items and events as JSON lines.
    Run(connector_run::RunArgs),
}

/// `switchboard store …`
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Check the store's trees against its event log.
    Verify {
        /// Data folder (contains db/).
        #[arg(long)]
        data: PathBuf,
    },
    /// Rebuild the store's trees from its event log.
    Rebuild {
        /// Data folder (contains db/).
        #[arg(long)]
        data: PathBuf,
    },
}

/// `switchboard shadow …`: these talk to a running host's API, because the
/// comparisons live in the running process.
#[derive(Debug, Subcommand)]
pub enum ShadowCommand {
    /// Show where the shadow policy disagreed with the active one, by rule and category.
    Report(shadow::ShadowArgs),
    /// Make the shadow policy the active routing policy.
    Promote(shadow::ShadowArgs),
    /// Return the routing policy to the version before the last activation.
    Rollback(shadow::ShadowArgs),
}

/// Parses the command line, runs it and maps errors to exit status 1. When
/// standard output is a pipe its reader closed, the command stops and the
/// process exits with status 0 and no message (see [`output`]).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo prints a report; its per-input warnings would bury it.
    // Reports and store maintenance print their own results, and info lines
    // would break their progress line on a terminal.
    let default_level = match cli.command {
        Command::Demo(_) | Command::Simulate(_) => "error",
        Command::Report(_) | Command::Store(_) => "warn",
        _ => "info",
    };
    init_logging(cli.log_format, default_level);

    let result = run(cli).and_then(|code| {
        output::stdout().flush()?;
        Ok(code)
    });
    match result {
        Ok(code) => code,
        // The reader of a pipe stopped reading (`… | head`): not a failure
        // of the command, so exit quietly with status 0.
        Err(_) if output::closed() => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Plugin(PluginCommand::Check { path }) => plugin_check::run(&path),
        Command::Plugin(PluginCommand::Install {
            path,
            bundled,
            config,
        }) => plugin_check::install(path.as_deref(), bundled, &config),
        Command::Policy(PolicyCommand::Route(args)) => policy_route::run(args),
        Command::Connector(ConnectorCommand::Run(args)) => connector_run::run(args),
        Command::Serve { config } => serve::run(&config),
        Command::Store(StoreCommand::Verify { data }) => store::verify(&data),
        Command::Store(StoreCommand::Rebuild { data }) => store::rebuild(&data),
        Command::Shadow(ShadowCommand::Report(args)) => shadow::report(&args),
        Command::Shadow(ShadowCommand::Promote(args)) => shadow::promote(&args),
        Command::Shadow(ShadowCommand::Rollback(args)) => shadow::rollback(&args),
        Command::Backfill {
            config,
            site,
            since,
        } => backfill::run(&config, &site, &since),
        Command::Simulate(args) => simulate::run(args),
        Command::Report(args) => report::run(args),
        Command::Token(TokenCommand::New) => token::new(),
        Command::Token(TokenCommand::Hash { token }) => token::hash(token.as_deref()),
    }
}

/// Logs go to standard error; `SWITCHBOARD_LOG` (an `EnvFilter` such as
/// `debug` or `switchboard=debug`) overrides the default level.
fn init_logging(format: LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    // Colour only on a terminal, so redirected logs carry no escape codes.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // A second initialization (tests calling into the CLI) keeps the first.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
