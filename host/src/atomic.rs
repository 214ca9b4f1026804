//! Writing a local file whole or not at all: through a temp file beside it, renamed into place
//! only when the writer succeeded (the CLI's `get -o`, the Python package's `get_file`).

use crate::HostError;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes the temp files of concurrent writes from one process (threads of the Python
/// package share a pid).
static SEQ: AtomicU64 = AtomicU64::new(0);

/// A temp path in `path`'s directory, unique to this process and call.
fn temp_beside(path: &Path) -> PathBuf {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    dir.join(format!(".{name}.artifact-tmp-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)))
}

/// Runs `f` on a temp file beside `path` (created new: never an existing file), syncs it and
/// renames it to `path` on success; on failure removes it and leaves `path` as it was.
pub fn write_atomically<T>(
    path: &Path,
    f: impl FnOnce(&mut dyn Write) -> Result<T, HostError>,
) -> Result<T, HostError> {
    let tmp = temp_beside(path);
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let r = f(&mut out).and_then(|v| {
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(v)
    });
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.contains("artifact-tmp")).collect()
    }

    #[test]
    fn concurrent_writers_of_one_path_leave_one_whole_file() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("out.bin");
        let bodies: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 3 << 20]).collect();
        std::thread::scope(|s| {
            for b in &bodies {
                let path = &path;
                s.spawn(move || {
                    write_atomically(path, |out| {
                        for c in b.chunks(4096) {
                            out.write_all(c)?;
                        }
                        Ok(())
                    })
                    .unwrap()
                });
            }
        });
        let got = std::fs::read(&path).unwrap();
        assert!(bodies.contains(&got), "the file is not one writer's whole body");
        assert!(leftovers(d.path()).is_empty());
    }

    #[test]
    fn a_failed_writer_leaves_the_old_file_and_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("out.bin");
        std::fs::write(&path, b"old").unwrap();
        let r = write_atomically(&path, |out| -> Result<(), HostError> {
            out.write_all(b"half")?;
            Err(HostError::Trap("failed mid-stream".into()))
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert!(leftovers(d.path()).is_empty());
    }
}
