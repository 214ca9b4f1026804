//! `artifact plugin run PLUGIN.wasm --bucket B [--quota 100MiB] [--max-artifacts N]
//! [--read-only] [--input TEXT]`: runs an untrusted plugin component (the `plugin` world) with
//! a store of its own, `$ARTIFACT_HOME/plugins/B/` (see `artifact_host::plugin`), and prints what
//! its `run` returned. Inspect that store with `artifact --home $ARTIFACT_HOME/plugins/B ls B`.

use super::common::Env;
use super::serve::duration;
use artifact_component::model::Error;
use artifact_host::plugin::{self, Limits, Scope};
use artifact_host::{metadata, storage, HostError};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(clap::Subcommand, Debug)]
pub enum Sub {
    /// Run a plugin component on its own bucket and print its answer.
    Run(RunArgs),
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The plugin: a component of the `plugin` world (wit/world.wit).
    pub plugin: std::path::PathBuf,
    /// The plugin's bucket, and the name of its store under $ARTIFACT_HOME/plugins/.
    #[arg(long)]
    pub bucket: String,
    /// Most bytes the bucket may hold (suffixes KiB, MiB, GiB).
    #[arg(long, default_value = "100MiB", value_parser = parse_size)]
    pub quota: u64,
    /// Most artifacts the bucket may hold.
    #[arg(long, default_value_t = 10_000)]
    pub max_artifacts: u64,
    /// Most bytes one run may read and write (suffixes KiB, MiB, GiB).
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    pub max_moved: u64,
    /// No writes: put, delete and gc fail with `forbidden`.
    #[arg(long)]
    pub read_only: bool,
    /// What `run` is given.
    #[arg(long, default_value = "")]
    pub input: String,
    /// Largest memory of any instance (suffixes KiB, MiB, GiB).
    #[arg(long, default_value = "256MiB", value_parser = parse_size)]
    pub max_memory: u64,
    /// Wall-clock limit of the run (e.g. 30s, 2m).
    #[arg(long, default_value = "30s")]
    pub timeout: String,
}

/// `123`, `64KiB`, `100MiB`, `2GiB` (binary units; `K`/`M`/`G` too).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().map_err(|_| format!("{s:?} is not a size (e.g. 100MiB)"))?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "K" | "KiB" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        other => return Err(format!("unknown size unit {other:?} (use KiB, MiB or GiB)")),
    };
    n.checked_mul(1 << shift).ok_or_else(|| format!("{s:?} is too large"))
}

pub fn run(env: &Env, a: Args) -> Result<(), HostError> {
    let Sub::Run(a) = a.command;
    if !plugin::valid_bucket(&a.bucket) {
        return Err(Error::InvalidArgument(format!(
            "--bucket {:?}: a plugin bucket is 1-63 of A-Z a-z 0-9 . _ - and does not start with a dot",
            a.bucket
        ))
        .into());
    }
    let wasm = std::fs::read(&a.plugin)
        .map_err(|e| HostError::Io(std::io::Error::new(e.kind(), format!("{}: {e}", a.plugin.display()))))?;
    let dir = std::path::absolute(env.home_dir().join("plugins").join(&a.bucket))?;
    std::fs::create_dir_all(dir.join(artifact_host::home::OBJECTS))?;
    let storage = storage::open(&format!("fs://{}", dir.join(artifact_host::home::OBJECTS).display()))?;
    let metadata = metadata::open(&format!("sqlite://{}", dir.join("metadata.db").display()))?;
    let scope = Scope {
        bucket: a.bucket,
        read_only: a.read_only,
        max_bytes: a.quota,
        max_count: a.max_artifacts,
        max_moved: a.max_moved,
    };
    let limits = Limits { memory_bytes: usize::try_from(a.max_memory).unwrap_or(usize::MAX), timeout: duration("timeout", &a.timeout)? };
    let out = plugin::run(&wasm, storage, metadata, scope, &limits, Some(&env.cache_dir), &a.input)?;
    println!("{}", out.output);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("100MiB"), Ok(100 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert!(parse_size("1.5MiB").is_err());
        assert!(parse_size("5TB").is_err());
        assert!(parse_size("99999999999999GiB").is_err());
    }
}
