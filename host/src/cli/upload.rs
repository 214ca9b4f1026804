//! `artifact upload DIR --bucket B`: a directory drop. Every regular file under DIR (recursively)
//! becomes the artifact `B/<path relative to DIR, '/'-separated>`, in byte order of those names.
//! Pairs that already exist are skipped (get-or-create: nothing is read or written for them, and a
//! concurrent uploader that wins the race also counts as a skip). A file that cannot be read or
//! stored is reported and does not stop the others; any failure makes the exit code 1.
//!
//! Output: one line per file on stdout (`uploaded NAME …`, `skipped NAME …`, `failed NAME: why`),
//! or one JSON object per file with `--json`, and a final summary: `uploaded N, skipped M,
//! failed K`. A progress bar (bytes, files, ETA) is drawn on stderr when stderr is a terminal
//! (not with `--quiet`). Failures are also written to stderr.
//!
//! Walk rules: symbolic links to files are followed; symbolic links to directories are not (a
//! warning on stderr), so a link cycle cannot loop; dangling links, sockets, FIFOs and
//! unreadable files or directories are failures.

use super::common::{open_input, Env};
use super::{content_type, progress};
use super::put::parse_compression;
use artifact_component::model::{Compression, Error, IfExists, PutOptions};
use artifact_component::refs;
use artifact_host::HostError;
use indicatif::ProgressBar;
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory to upload; walked recursively.
    pub dir: PathBuf,
    /// Bucket the files go to.
    #[arg(long)]
    pub bucket: String,
    /// Only files matching this pattern: `*` and `?` (not crossing `/`), `**` (crossing `/`).
    /// Without a `/` it is matched against the file's base name, with one against the whole
    /// relative name.
    #[arg(long)]
    pub glob: Option<String>,
    /// Producer label recorded as created_by.
    #[arg(long)]
    pub created_by: Option<String>,
    /// MIME type of every file; `auto` guesses from each file's extension.
    #[arg(long, default_value = "auto")]
    pub content_type: String,
    /// none | gzip | deflate (how the blobs are stored; names and digests are unaffected).
    #[arg(long, value_parser = parse_compression)]
    pub compression: Option<Compression>,
    /// One JSON object per file and a final summary object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One file found under DIR.
struct Entry {
    /// Artifact name: the path relative to DIR with `/` separators.
    name: String,
    path: PathBuf,
    /// Size from the directory walk (0 when unknown); drives the progress bar.
    size: u64,
    /// Why it cannot be uploaded, when the walk already knows.
    problem: Option<String>,
}

/// Runs the upload; `Ok(false)` when at least one file failed (the summary is already printed).
pub fn run(env: &Env, a: Args) -> Result<bool, HostError> {
    refs::validate_bucket(&a.bucket)?;
    if let Some(g) = &a.glob {
        if g.is_empty() {
            return Err(Error::InvalidArgument("--glob is empty".into()).into());
        }
    }
    match std::fs::metadata(&a.dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(invalid(format!("{} is not a directory", a.dir.display()))),
        Err(e) => return Err(invalid(format!("cannot read directory {}: {e}", a.dir.display()))),
    }
    let mut entries = Vec::new();
    walk(&a.dir, "", &mut entries);
    if let Some(g) = &a.glob {
        let pat: Vec<char> = g.chars().collect();
        let whole = g.contains('/');
        entries.retain(|e| {
            let subject = if whole { e.name.as_str() } else { e.name.rsplit('/').next().unwrap_or(&e.name) };
            glob_match(&pat, &subject.chars().collect::<Vec<_>>())
        });
        if entries.is_empty() {
            return Err(invalid(format!("no file under {} matches --glob {g:?}", a.dir.display())));
        }
    }
    entries.sort_by(|x, y| x.name.cmp(&y.name));

    let rt = env.runtime()?;
    let mut out = Output::new(a.json, env.quiet, entries.iter().map(|e| e.size).sum(), entries.len() as u64);
    for e in &entries {
        let outcome = upload_one(&rt, &a, e, out.bar.as_ref());
        out.record(e, outcome);
    }
    Ok(out.finish())
}

fn invalid(m: String) -> HostError {
    HostError::Artifact(Error::InvalidArgument(m))
}

enum Outcome {
    Uploaded { id: String, bytes: u64 },
    Skipped { id: String },
    Failed(HostError),
}

fn upload_one(rt: &artifact_host::Runtime, a: &Args, e: &Entry, bar: Option<&ProgressBar>) -> Outcome {
    if let Some(p) = &e.problem {
        return Outcome::Failed(HostError::Io(std::io::Error::other(format!("cannot read {}: {p}", e.path.display()))));
    }
    if let Err(err) = refs::validate_name(&e.name) {
        return Outcome::Failed(err.into());
    }
    // Cheap pre-check so existing files are not read at all; the put below is get-or-create
    // anyway, so a pair created in between is still never written twice.
    match rt.find(&a.bucket, &e.name) {
        Ok(rec) => return Outcome::Skipped { id: rec.id },
        Err(HostError::Artifact(Error::NotFound(_))) => {}
        Err(err) => return Outcome::Failed(err),
    }
    let file = match open_input(&e.path) {
        Ok(f) => f,
        Err(err) => return Outcome::Failed(err),
    };
    let (content_type, file) = match content_type::resolve(&a.content_type, Some(&e.name), file) {
        Ok(x) => x,
        Err(err) => return Outcome::Failed(HostError::Io(err)),
    };
    let opts = PutOptions {
        content_type: Some(content_type),
        compression: a.compression,
        bucket: Some(a.bucket.clone()),
        name: Some(e.name.clone()),
        if_exists: Some(IfExists::Get),
        created_by: a.created_by.clone(),
        ..Default::default()
    };
    let mut src = progress::Reading { inner: file, bar };
    match rt.put_stream(&mut src, &opts) {
        Ok(p) if p.created => Outcome::Uploaded { id: p.record.id, bytes: p.record.bytes },
        Ok(p) => Outcome::Skipped { id: p.record.id },
        Err(err) => Outcome::Failed(err),
    }
}

/// Progress and per-file reporting.
struct Output {
    json: bool,
    bar: Option<ProgressBar>,
    files: u64,
    done: u64,
    uploaded: u64,
    skipped: u64,
    failed: u64,
}

impl Output {
    fn new(json: bool, quiet: bool, total_bytes: u64, files: u64) -> Self {
        let bar = progress::bar(total_bytes, quiet);
        let o = Output { json, bar, files, done: 0, uploaded: 0, skipped: 0, failed: 0 };
        o.message();
        o
    }

    fn message(&self) {
        if let Some(b) = &self.bar {
            b.set_message(format!(
                "files {}/{} (uploaded {}, skipped {}, failed {})",
                self.done, self.files, self.uploaded, self.skipped, self.failed
            ));
        }
    }

    fn record(&mut self, e: &Entry, o: Outcome) {
        self.done += 1;
        // Keep the byte total honest: files not (fully) read leave the bar's length.
        let line = match &o {
            Outcome::Uploaded { id, bytes } => {
                self.uploaded += 1;
                if self.json {
                    json!({"status": "uploaded", "name": e.name, "id": id, "bytes": bytes}).to_string()
                } else {
                    format!("uploaded {} ({bytes} bytes) as {id}", e.name)
                }
            }
            Outcome::Skipped { id } => {
                self.skipped += 1;
                if let Some(b) = &self.bar {
                    b.dec_length(e.size);
                }
                if self.json {
                    json!({"status": "skipped", "name": e.name, "id": id}).to_string()
                } else {
                    format!("skipped {} (exists as {id})", e.name)
                }
            }
            Outcome::Failed(err) => {
                self.failed += 1;
                if let Some(b) = &self.bar {
                    b.dec_length(e.size);
                }
                let msg = format!("artifact: upload of {} failed: {} error: {err}", e.name, err.kind());
                match &self.bar {
                    Some(b) => b.suspend(|| eprintln!("{msg}")),
                    None => eprintln!("{msg}"),
                }
                if self.json {
                    json!({"status": "failed", "name": e.name,
                           "error": {"kind": err.kind(), "message": err.to_string()}})
                    .to_string()
                } else {
                    format!("failed {}: {err}", e.name)
                }
            }
        };
        match &self.bar {
            Some(b) => b.suspend(|| println!("{line}")),
            None => println!("{line}"),
        }
        self.message();
    }

    /// Prints the summary; whether every file succeeded.
    fn finish(self) -> bool {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        if self.json {
            println!(
                "{}",
                json!({"status": if self.failed == 0 { "success" } else { "error" },
                       "uploaded": self.uploaded, "skipped": self.skipped, "failed": self.failed})
            );
        } else {
            println!("uploaded {}, skipped {}, failed {}", self.uploaded, self.skipped, self.failed);
        }
        self.failed == 0
    }
}

/// Collects the files under `dir` (whose name relative to the upload root is `rel`).
fn walk(dir: &Path, rel: &str, out: &mut Vec<Entry>) {
    let join = |n: &str| if rel.is_empty() { n.to_string() } else { format!("{rel}/{n}") };
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            out.push(Entry {
                name: if rel.is_empty() { ".".into() } else { rel.to_string() },
                path: dir.to_path_buf(),
                size: 0,
                problem: Some(format!("cannot list directory: {e}")),
            });
            return;
        }
    };
    for item in rd {
        let item = match item {
            Ok(i) => i,
            Err(e) => {
                out.push(Entry { name: join("?"), path: dir.to_path_buf(), size: 0, problem: Some(format!("cannot list directory: {e}")) });
                continue;
            }
        };
        let path = item.path();
        let file_name = item.file_name();
        let Some(n) = file_name.to_str() else {
            out.push(Entry {
                name: join(&file_name.to_string_lossy()),
                path,
                size: 0,
                problem: Some("the file name is not valid UTF-8".into()),
            });
            continue;
        };
        let name = join(n);
        let ft = match item.file_type() {
            Ok(t) => t,
            Err(e) => {
                out.push(Entry { name, path, size: 0, problem: Some(e.to_string()) });
                continue;
            }
        };
        if ft.is_dir() {
            walk(&path, &name, out);
            continue;
        }
        // Follows symlinks; a dangling one is left to `open_input`, which names the problem.
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => {
                eprintln!("artifact: not following {} (a symbolic link to a directory)", path.display());
            }
            Ok(m) if m.is_file() => out.push(Entry { name, path, size: m.len(), problem: None }),
            Ok(_) => out.push(Entry { name, path, size: 0, problem: Some("not a regular file".into()) }),
            Err(_) => out.push(Entry { name, path, size: 0, problem: None }),
        }
    }
}

/// Glob match: `*` and `?` never cross `/`; `**` crosses it, and `**/` also matches nothing.
/// Dynamic programming over (pattern, subject) positions, so no pattern backtracks exponentially.
pub fn glob_match(p: &[char], s: &[char]) -> bool {
    // m[i][j]: p[i..] matches s[j..].
    let mut m = vec![vec![false; s.len() + 1]; p.len() + 1];
    m[p.len()][s.len()] = true;
    for i in (0..p.len()).rev() {
        for j in (0..=s.len()).rev() {
            m[i][j] = match p[i] {
                '*' if p.get(i + 1) == Some(&'*') => {
                    let after = i + 2;
                    let empty_dir = p.get(after) == Some(&'/') && m[after + 1][j];
                    // `**` consumes zero or more characters of any kind.
                    empty_dir || m[after][j] || (j < s.len() && m[i][j + 1])
                }
                '*' => m[i + 1][j] || (j < s.len() && s[j] != '/' && m[i][j + 1]),
                '?' => j < s.len() && s[j] != '/' && m[i + 1][j + 1],
                c => j < s.len() && s[j] == c && m[i + 1][j + 1],
            };
        }
    }
    m[0][0]
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn g(p: &str, s: &str) -> bool {
        glob_match(&p.chars().collect::<Vec<_>>(), &s.chars().collect::<Vec<_>>())
    }

    #[test]
    fn globs() {
        assert!(g("VectorAnalitico*.xls", "VectorAnalitico_2026_03_15.xls"));
        assert!(!g("VectorAnalitico*.xls", "VectorAnalitico_2026_03_15.xlsx"));
        assert!(g("*", ""));
        assert!(g("a?c", "abc"));
        assert!(!g("a?c", "a/c"));
        assert!(!g("*.csv", "dir/x.csv"));
        assert!(g("dir/*.csv", "dir/x.csv"));
        assert!(g("**/*.csv", "x.csv"));
        assert!(g("**/*.csv", "a/b/x.csv"));
        assert!(g("a/**", "a/b/c"));
        assert!(!g("a*b", "acbd"));
        assert!(g(&"*".repeat(40), &"a".repeat(200)));
        assert!(!g(&"*a".repeat(20), &"a".repeat(19)));
    }
}
