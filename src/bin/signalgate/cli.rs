//! The command line's grammar and help texts (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const ABOUT: &str = "Consent-first personalization gate: keys, signed signal bundles and decisions";

const AFTER_HELP: &str = "\
Files may be `-` for standard input; a BUNDLE or CLAIMS argument left out is read from
standard input. Text taken from bundles and files is printed with control and bidi
characters escaped as \\u{..} (in JSON output as \\uXXXX).

Exit status:
  0  success (also when a closed pipe, as in `| head`, cuts the output short)
  1  the operation failed: a bad bundle, key, policy or context file, or a bundle
     that does not verify
  2  usage error: unknown subcommand or option, missing or malformed argument";

const CONTEXT_HELP: &str = "\
Request context file (JSON)

The context of the request the decision is made for:
  {\"now\": UNIX, \"purposes\": [\"personalization\"], \"channel\": \"web\",
   \"tenant\": \"demo-shop\", \"scope\": \"web\", \"gpc\": false}
`now` defaults to the clock and `gpc` to false.";

/// `signalgate`, the tool.
#[derive(Debug, Parser)]
#[command(name = "signalgate", version, about = ABOUT, after_help = AFTER_HELP, arg_required_else_help = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate an Ed25519 signing key: a private JWK and its public JWK Set
    #[command(
        after_help = "Example:\n  signalgate keygen --kid origin-1 --private-out origin.jwk --public-out keys.jwks"
    )]
    Keygen(KeygenArgs),
    /// Sign bundle claims (JSON) into a compact JWS bundle
    #[command(after_help = "Example:\n  signalgate sign --key origin.jwk claims.json > bundle.jws")]
    Sign(SignArgs),
    /// Verify a bundle (signature, time window, audience, tenant) and print its claims
    #[command(after_help = "Example:\n  signalgate verify --keys keys.jwks --tenant demo-shop bundle.jws")]
    Verify(VerifyArgs),
    /// Decode a bundle without verifying it (output labelled UNVERIFIED)
    #[command(after_help = "Example:\n  signalgate inspect bundle.jws")]
    Inspect(InspectArgs),
    /// Verify a bundle and evaluate the policy: the decision and its reasons
    #[command(
        after_help = "Example:\n  signalgate eval --policy www/policy.json --keys keys.jwks --context ctx.json bundle.jws"
    )]
    Eval(EvalArgs),
    /// Check a policy file, or show which decisions a policy change would alter
    #[command(
        subcommand,
        arg_required_else_help = true,
        after_help = "Examples:\n  signalgate policy check www/policy.json\n  \
                      signalgate policy diff old.json new.json --bundles bundles/ --keys keys.jwks --context ctx.json"
    )]
    Policy(PolicyCommand),
    /// The origin's signal ledger over a SQLite file: captures, merges, deletion, retention, evidence, webhooks
    #[command(
        subcommand,
        arg_required_else_help = true,
        after_help = "Examples:\n  signalgate ledger init --db ledger.db\n  \
                      signalgate ledger submit --db ledger.db --policy www/policy.json --key origin.jwk \\\n    \
                      --tenant demo-shop --subject u-1 capture.json\n  \
                      signalgate ledger verify-chain --db ledger.db --tenant demo-shop\n  \
                      signalgate ledger evidence --db ledger.db --policy www/policy.json --key origin.jwk \\\n    \
                      --tenant demo-shop --subject u-1 --out u-1.jws\n  \
                      signalgate ledger check-evidence u-1.jws --jwks keys.jwks\n  \
                      signalgate ledger webhooks deliver --db ledger.db --tenant demo-shop --watch 5"
    )]
    Ledger(crate::ledger_cli::LedgerCommand),
    /// Print a shell completion script
    #[command(
        after_help = "Example:\n  signalgate completions bash > ~/.local/share/bash-completion/completions/signalgate"
    )]
    Completions(CompletionsArgs),
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy file and summarise it
    #[command(after_help = "Example:\n  signalgate policy check www/policy.json")]
    Check(PolicyCheckArgs),
    /// Show which decisions change from the OLD to the NEW policy, over a directory of bundles
    #[command(
        after_help = "Example:\n  signalgate policy diff old.json new.json --bundles bundles/ --keys keys.jwks --context ctx.json"
    )]
    Diff(PolicyDiffArgs),
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Key id (default: the key's RFC 7638 thumbprint)
    #[arg(long, value_name = "KID")]
    pub kid: Option<String>,
    /// Write the private JWK to FILE (mode 0600, never overwrites) instead of standard output
    #[arg(long, value_name = "FILE")]
    pub private_out: Option<PathBuf>,
    /// Write the public JWK Set to FILE instead of standard output
    #[arg(long, value_name = "FILE")]
    pub public_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// Private JWK file to sign with (from `signalgate keygen`)
    #[arg(long, value_name = "PRIVATE_JWK")]
    pub key: PathBuf,
    /// Claims file (JSON), or `-` for standard input
    #[arg(value_name = "CLAIMS", default_value = "-")]
    pub claims: PathBuf,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Public JWK Set file of the trusted keys
    #[arg(long, value_name = "JWKS")]
    pub keys: PathBuf,
    /// The audience the bundle must name (`aud`)
    #[arg(long, value_name = "AUD", default_value = "signalgate")]
    pub audience: String,
    /// The tenant the bundle must name (`ten`; default: any)
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,
    /// Check the time window at this instant (Unix seconds) instead of the clock
    #[arg(long, value_name = "UNIX", allow_negative_numbers = true)]
    pub now: Option<i64>,
    /// Bundle file (compact JWS), or `-` for standard input
    #[arg(value_name = "BUNDLE", default_value = "-")]
    pub bundle: PathBuf,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Bundle file (compact JWS), or `-` for standard input
    #[arg(value_name = "BUNDLE", default_value = "-")]
    pub bundle: PathBuf,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Policy file (JSON)
    #[arg(long, value_name = "POLICY")]
    pub policy: PathBuf,
    /// Public JWK Set file of the trusted keys
    #[arg(long, value_name = "JWKS")]
    pub keys: PathBuf,
    #[arg(long, value_name = "CONTEXT", help = "Request context file (JSON)", long_help = CONTEXT_HELP)]
    pub context: PathBuf,
    /// The audience bundles must name (`aud`)
    #[arg(long, value_name = "AUD", default_value = "signalgate")]
    pub audience: String,
    /// Print the decision as JSON instead of text
    #[arg(long)]
    pub json: bool,
    /// Bundle file (compact JWS), or `-` for standard input; an empty one means no bundle
    #[arg(value_name = "BUNDLE", default_value = "-")]
    pub bundle: PathBuf,
}

#[derive(Debug, Args)]
pub struct PolicyCheckArgs {
    /// Policy file (JSON), or `-` for standard input
    #[arg(value_name = "POLICY")]
    pub policy: PathBuf,
}

#[derive(Debug, Args)]
pub struct PolicyDiffArgs {
    /// The current policy file (JSON)
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The changed policy file (JSON)
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// Directory of bundle files, one bundle per file
    #[arg(long, value_name = "DIR")]
    pub bundles: PathBuf,
    /// Public JWK Set file of the trusted keys
    #[arg(long, value_name = "JWKS")]
    pub keys: PathBuf,
    #[arg(long, value_name = "CONTEXT", help = "Request context file (JSON)", long_help = CONTEXT_HELP)]
    pub context: PathBuf,
    /// The audience bundles must name (`aud`)
    #[arg(long, value_name = "AUD", default_value = "signalgate")]
    pub audience: String,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write the script for
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_grammar_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
