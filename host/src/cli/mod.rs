//! The `artifact` command line: global options, output conventions and dispatch.
//!
//! Conventions: JSON on stdout, human-readable errors on stderr, an exit code by error kind
//! ([`artifact_host::exit`]; the JSON error object `{"status":"error","error":{"kind","message"}}`
//! is also printed on stdout by commands that print JSON).

mod cat;
mod common;
mod console;
mod content_type;
mod progress;
mod doctor;
mod externalize;
mod find;
mod gc;
mod get;
mod head;
mod ls;
mod manifest;
mod plugin;
mod put;
mod rm;
mod serve;
mod sign;
mod summary;
mod upload;

use clap::{Parser, Subcommand};
pub use common::Env;

/// Artifact store on a WebAssembly component.
#[derive(Parser, Debug)]
#[command(name = "artifact", version, about)]
pub struct Cli {
    /// Home of the embedded default store (blobs, metadata, compiled-code cache).
    #[arg(long, global = true, env = "ARTIFACT_HOME", default_value = ".artifacts")]
    pub home: std::path::PathBuf,
    /// Storage backend URI(s); the first is the default for new blobs. Default: fs://$ARTIFACT_HOME/objects.
    #[arg(long = "storage", global = true, env = "ARTIFACT_STORAGE", value_delimiter = ',')]
    pub storage: Vec<String>,
    /// Where compiled component code is cached. Default: $ARTIFACT_HOME/cache.
    #[arg(long, global = true, env = "ARTIFACT_CACHE_DIR")]
    pub cache_dir: Option<std::path::PathBuf>,
    /// Metadata backend URI. Default: sqlite://$ARTIFACT_HOME/metadata.db.
    #[arg(long, global = true, env = "ARTIFACT_METADATA")]
    pub metadata: Option<String>,
    /// No progress bars and no error sentence on stderr (stdout and the exit code still tell).
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Store a file (or `-` for stdin) and print its ResultRef.
    Put(put::Args),
    /// Read an artifact.
    Get(get::Args),
    /// Print an artifact's metadata without reading its body.
    Head(head::Args),
    /// Build, inspect and stream manifests (results made of many parts).
    Manifest(manifest::Args),
    /// Keep a JSON result inline, or store it and print its ResultRef, a preview and selected fields.
    Externalize(externalize::Args),
    /// Print a signed URL for reading an artifact, or (`--method PUT`) for uploading one, over HTTP (see `serve`).
    Sign(sign::Args),
    /// Serve signed artifact reads and uploads over HTTP with the edge component.
    Serve(serve::Args),
    /// A web console over the store: browse buckets, preview, download, upload and delete.
    Console(console::Args),
    /// Upload the files of a directory to a bucket, skipping names that already exist.
    Upload(upload::Args),
    /// Run an untrusted plugin component with a store of its own (one bucket, quotas, read-only).
    Plugin(plugin::Args),
    /// List artifacts (a table, or JSON lines with --json), one page at a time.
    Ls(ls::Args),
    /// Print the one artifact with this bucket and name.
    Find(find::Args),
    /// Write an artifact's raw bytes to stdout.
    Cat(cat::Args),
    /// Delete an artifact (and its blob when no other artifact shares it).
    Rm(rm::Args),
    /// Count and total bytes of a bucket.
    Summary(summary::Args),
    /// Remove expired artifacts and unreferenced blobs.
    Gc(gc::Args),
    /// Check the storage and metadata backends: versions, reachability, write permission.
    Doctor(doctor::Args),
    /// Print a shell completion script: `artifact completions bash > /etc/bash_completion.d/artifact`.
    Completions {
        /// bash | zsh | fish | elvish | powershell
        shell: clap_complete::Shell,
    },
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let env = Env::new(&cli);

    let r = match cli.command {
        Command::Put(a) => put::run(&env, a),
        Command::Get(a) => get::run(&env, a),
        Command::Head(a) => head::run(&env, a),
        Command::Manifest(a) => manifest::run(&env, a),
        Command::Externalize(a) => match externalize::run(&env, a) {
            // A failure to store is already printed, with the preview and selected fields.
            Ok(code) => return code,
            Err(e) => Err(e),
        },
        Command::Sign(a) => sign::run(&env, a),
        Command::Serve(a) => serve::run(&env, a),
        Command::Console(a) => console::run(&env, a),
        Command::Upload(a) => match upload::run(&env, a) {
            // Per-file failures are already reported, with the summary.
            Ok(all_ok) => return if all_ok { 0 } else { 1 },
            Err(e) => Err(e),
        },
        Command::Plugin(a) => plugin::run(&env, a),
        Command::Ls(a) => ls::run(&env, a),
        Command::Find(a) => find::run(&env, a),
        Command::Cat(a) => cat::run(&env, a),
        Command::Rm(a) => rm::run(&env, a),
        Command::Summary(a) => summary::run(&env, a),
        Command::Gc(a) => gc::run(&env, a),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "artifact", &mut std::io::stdout());
            Ok(())
        }
        Command::Doctor(a) => match doctor::run(&env, a) {
            // Failed checks are already reported in the JSON.
            Ok(all_ok) => return if all_ok { 0 } else { 1 },
            Err(e) => Err(e),
        },
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            common::print_error(&e, env.quiet);
            artifact_host::exit::code(e.kind())
        }
    }
}
