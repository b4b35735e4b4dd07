//! `signalgate`: keys, bundles and decisions from the command line.
//!
//! ```text
//! signalgate keygen  [--kid KID] [--private-out FILE] [--public-out FILE]
//! signalgate sign    --key PRIVATE_JWK [CLAIMS|-]
//! signalgate verify  --keys JWKS [--audience AUD] [--tenant T] [--now UNIX] [BUNDLE|-]
//! signalgate inspect [BUNDLE|-]
//! signalgate eval    --policy P --keys JWKS --context CTX_JSON [--audience AUD] [--json] [BUNDLE|-]
//! signalgate policy check FILE
//! signalgate policy diff OLD NEW --bundles DIR --keys JWKS --context CTX_JSON [--audience AUD]
//! signalgate completions bash|zsh|fish|elvish|powershell
//! signalgate ledger init|submit|reconfirm|revoke|list|bundle|expire|replay|verify-chain ...
//! signalgate ledger merge|merges|review|split ...                (identity)
//! signalgate ledger delete|restore|delete-signal|lock|unlock|retention ...
//! signalgate ledger intake|intake-list|intake-map|intake-discard ...
//! signalgate ledger history|evidence|check-evidence ...
//! signalgate ledger webhooks add|list|rotate|disable|deliveries|retry|deliver ...
//! signalgate ledger metrics|rotate-data-keys ...
//! ```
//!
//! Exit status: 0 success, 1 a failed operation, 2 a usage error (clap's).
//! A closed standard output (`| head`) ends the command quietly with 0.

mod admin_cli;
mod cli;
mod commands;
mod evidence_cli;
mod identity_cli;
mod intake_cli;
mod ledger_cli;
mod ledger_ctx;
mod retention_cli;
mod safe;
mod webhooks_cli;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use commands::Failure;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to standard output with status 0; usage
            // errors to standard error with status 2. Either may meet a
            // closed pipe: nothing more to say then.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let mut out = io::stdout().lock();
    let result = commands::run(cli.command, &mut out).and_then(|()| Ok(out.flush()?));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(failure) => {
            let _ = failure.report(&mut io::stderr().lock());
            ExitCode::FAILURE
        }
    }
}
