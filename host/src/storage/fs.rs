//! Filesystem storage (driver `fs`).
//!
//! The object URI `fs://blobs/sha256/ab/abcd…` maps to `<root>/blobs/sha256/ab/abcd…`. Object
//! paths are relative, `/`-separated and may not escape the root: absolute paths, `.`, `..`,
//! empty segments, backslashes and NUL are rejected, as is the reserved `.staging` directory.
//!
//! Writers stage into `<root>/.staging/<unique>`; `commit` fsyncs the staged file and then
//! publishes it with `hard_link` (`IfAbsent`: the link fails if anything is there, so concurrent
//! committers race safely and exactly one wins) or `rename` (`Overwrite`: atomic replacement).
//! Readers therefore only ever see whole objects. Symlinks placed inside the root by the operator
//! are followed; the root's contents are trusted, object URIs are not.

use super::{BlobWriter, Publish, Storage};
use artifact_component::backend::{clamp_limit, page, READ_CAP};
use artifact_component::model::Error;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const SCHEME: &str = "fs://";
const DRIVER: &str = "fs";
const STAGING: &str = ".staging";
/// Longest accepted object path (bytes after `fs://`).
const MAX_PATH_LEN: usize = 1024;
const WRITE_BUFFER: usize = 256 << 10;

fn io_err(op: &str, path: &Path, e: io::Error) -> Error {
    Error::Storage(format!("{op} {}: {e}", path.display()))
}

/// Objects as files under a root directory.
#[derive(Debug)]
pub struct FsStorage {
    root: PathBuf,
    staging: PathBuf,
}

impl FsStorage {
    /// Opens (creating if needed) the root at `path`: what follows `fs://` in a backend URI, an
    /// absolute path or one relative to the working directory.
    pub fn open(path: &str) -> Result<Self, Error> {
        if path.is_empty() || path.contains('\0') {
            return Err(Error::InvalidArgument(format!("invalid fs root {path:?}")));
        }
        let root = Path::new(path);
        fs::create_dir_all(root).map_err(|e| io_err("create root", root, e))?;
        let root = root
            .canonicalize()
            .map_err(|e| io_err("resolve root", root, e))?;
        let staging = root.join(STAGING);
        fs::create_dir_all(&staging).map_err(|e| io_err("create staging dir", &staging, e))?;
        Ok(FsStorage { root, staging })
    }

    /// The (canonical) root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file an object URI maps to, after validating the URI.
    pub fn path_of(&self, uri: &str) -> Result<PathBuf, Error> {
        let rel = object_path(uri)?;
        Ok(self.root.join(rel))
    }
}

/// The relative object path of `uri`, validated.
fn object_path(uri: &str) -> Result<&str, Error> {
    let rel = uri
        .strip_prefix(SCHEME)
        .ok_or_else(|| Error::InvalidArgument(format!("{uri:?} is not an fs:// URI")))?;
    validate_segments(rel, uri)?;
    Ok(rel)
}

fn validate_segments(rel: &str, uri: &str) -> Result<(), Error> {
    let bad = |why: &str| {
        Err(Error::InvalidArgument(format!(
            "invalid object URI {uri:?}: {why}"
        )))
    };
    if rel.is_empty() {
        return bad("empty path");
    }
    if rel.len() > MAX_PATH_LEN {
        return bad("path too long");
    }
    if rel.starts_with('/') {
        return bad("absolute paths are not allowed");
    }
    if rel.contains('\\') || rel.contains('\0') {
        return bad("backslash or NUL in path");
    }
    for (i, seg) in rel.split('/').enumerate() {
        match seg {
            "" => return bad("empty path segment"),
            "." | ".." => return bad("relative path segment"),
            STAGING if i == 0 => return bad("reserved path"),
            _ => {}
        }
    }
    Ok(())
}

/// Validates a listing prefix; returns its relative part (possibly empty, possibly ending in a
/// partial segment).
fn prefix_path(prefix: &str) -> Result<&str, Error> {
    let rel = prefix
        .strip_prefix(SCHEME)
        .ok_or_else(|| Error::InvalidArgument(format!("{prefix:?} is not an fs:// prefix")))?;
    if rel.is_empty() {
        return Ok(rel);
    }
    // Every complete segment must be valid; the last (partial) one only needs sane characters.
    let (dirs, last) = rel.rsplit_once('/').unwrap_or(("", rel));
    if rel.contains('/') {
        validate_segments(dirs, prefix)?;
    }
    if last.contains('\\') || last.contains('\0') || last == ".." {
        return Err(Error::InvalidArgument(format!("invalid prefix {prefix:?}")));
    }
    Ok(rel)
}


/// fsyncs a directory so a link or rename in it is durable. Best effort (not all platforms let a
/// directory be opened).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

struct FsWriter {
    root: PathBuf,
    staging: PathBuf,
    file: Option<BufWriter<File>>,
}

impl FsWriter {
    fn finished() -> Error {
        Error::Storage("writer is finished".into())
    }

    /// Runs `publish(staging, dest)`, creating `dest`'s parents first and retrying if a concurrent
    /// `delete` pruned an empty parent directory in between. The outer error is a failure to
    /// create the parents, the inner one `publish`'s.
    fn publish_with(
        &self,
        dest: &Path,
        publish: impl Fn(&Path, &Path) -> io::Result<()>,
    ) -> Result<io::Result<()>, Error> {
        let parent = dest.parent().unwrap_or(&self.root);
        let mut attempts = 0;
        loop {
            fs::create_dir_all(parent).map_err(|e| io_err("create directory", parent, e))?;
            match publish(&self.staging, dest) {
                Err(e) if e.kind() == ErrorKind::NotFound && attempts < 3 => attempts += 1,
                r => return Ok(r),
            }
        }
    }
}

impl BlobWriter for FsWriter {
    fn write(&mut self, chunk: &[u8]) -> Result<(), Error> {
        let f = self.file.as_mut().ok_or_else(Self::finished)?;
        f.write_all(chunk)
            .map_err(|e| io_err("write", &self.staging, e))
    }

    fn commit(&mut self, uri: &str, publish: Publish) -> Result<bool, Error> {
        if self.file.is_none() {
            return Err(Self::finished());
        }
        let rel = object_path(uri)?;
        let dest = self.root.join(rel);
        let file = self.file.take().expect("checked above");
        let result = (|| {
            let file = file
                .into_inner()
                .map_err(|e| io_err("flush", &self.staging, e.into_error()))?;
            file.sync_all()
                .map_err(|e| io_err("fsync", &self.staging, e))?;
            drop(file);
            let stored = match publish {
                Publish::IfAbsent => match self.publish_with(&dest, |s, d| fs::hard_link(s, d))? {
                    Ok(()) => true,
                    Err(e) if e.kind() == ErrorKind::AlreadyExists && !dest.is_dir() => false,
                    Err(e) => return Err(io_err("publish", &dest, e)),
                },
                Publish::Overwrite => {
                    if dest.is_dir() {
                        return Err(Error::Storage(format!(
                            "publish {}: a directory is in the way",
                            dest.display()
                        )));
                    }
                    self.publish_with(&dest, |s, d| fs::rename(s, d))?
                        .map_err(|e| io_err("publish", &dest, e))?;
                    true
                }
            };
            if let Some(parent) = dest.parent() {
                sync_dir(parent);
            }
            Ok(stored)
        })();
        // After IfAbsent (either outcome) or a failure the staged file is still there.
        let _ = fs::remove_file(&self.staging);
        result
    }

    fn abort(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.staging);
        }
    }
}

impl Drop for FsWriter {
    fn drop(&mut self) {
        self.abort();
    }
}

impl Storage for FsStorage {
    fn drivers(&self) -> Vec<String> {
        vec![DRIVER.into()]
    }

    fn create_writer(&self, driver: &str) -> Result<Box<dyn BlobWriter + Send>, Error> {
        if driver != DRIVER {
            return Err(Error::InvalidArgument(format!(
                "driver {driver:?} is not configured"
            )));
        }
        // The staging dir may have been removed behind our back; recreate it once.
        for attempt in 0..8 {
            let path = self.staging.join(super::unique_name());
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => {
                    return Ok(Box::new(FsWriter {
                        root: self.root.clone(),
                        staging: path,
                        file: Some(BufWriter::with_capacity(WRITE_BUFFER, f)),
                    }));
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) if e.kind() == ErrorKind::NotFound && attempt == 0 => {
                    fs::create_dir_all(&self.staging)
                        .map_err(|e| io_err("create staging dir", &self.staging, e))?;
                }
                Err(e) => return Err(io_err("create staging file", &path, e)),
            }
        }
        Err(Error::Storage(format!(
            "could not create a unique staging file in {}",
            self.staging.display()
        )))
    }

    /// Removes files in the staging directory last modified before `before`: a live writer
    /// touches its file with every chunk, so only writers that stopped (killed) go.
    fn collect_staging(&self, before: u64) -> Result<u32, Error> {
        let cutoff = std::time::UNIX_EPOCH + std::time::Duration::from_millis(before);
        let entries = match fs::read_dir(&self.staging) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io_err("list staging", &self.staging, e)),
        };
        let mut n = 0;
        for entry in entries {
            let entry = entry.map_err(|e| io_err("list staging", &self.staging, e))?;
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_file() && meta.modified().is_ok_and(|m| m < cutoff) && fs::remove_file(entry.path()).is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }

    fn read(&self, uri: &str, offset: u64, len: u64) -> Result<Vec<u8>, Error> {
        let path = self.path_of(uri)?;
        let not_found = || Error::NotFound(format!("no object at {uri}"));
        let mut f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                return Err(not_found());
            }
            Err(e) => return Err(io_err("open", &path, e)),
        };
        let meta = f.metadata().map_err(|e| io_err("stat", &path, e))?;
        if !meta.is_file() {
            return Err(not_found());
        }
        let size = meta.len();
        if offset >= size {
            return Ok(Vec::new());
        }
        let len = len.min(READ_CAP).min(size - offset);
        if offset > 0 {
            // A fresh descriptor is at 0 already: whole reads (every small GET) skip the call.
            f.seek(SeekFrom::Start(offset))
                .map_err(|e| io_err("seek", &path, e))?;
        }
        let mut buf = Vec::with_capacity(len as usize);
        f.take(len)
            .read_to_end(&mut buf)
            .map_err(|e| io_err("read", &path, e))?;
        Ok(buf)
    }

    fn stat(&self, uri: &str) -> Result<Option<u64>, Error> {
        let path = self.path_of(uri)?;
        match fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                Ok(None)
            }
            Err(e) => Err(io_err("stat", &path, e)),
        }
    }

    fn list_objects(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<String>, Option<String>), Error> {
        let rel = prefix_path(prefix)?;
        let limit = clamp_limit(limit);
        // Start the walk at the deepest directory the prefix names completely.
        let base = match rel.rfind('/') {
            Some(i) => &rel[..=i],
            None => "",
        };
        let mut walk = Walk {
            prefix,
            cursor,
            want: limit + 1,
            out: Vec::new(),
        };
        walk.dir(&self.root.join(base), &format!("{SCHEME}{base}"))?;
        Ok(page(walk.out, limit, String::clone))
    }

    fn delete(&self, uri: &str) -> Result<bool, Error> {
        let path = self.path_of(uri)?;
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => return Ok(false),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                return Ok(false);
            }
            Err(e) => return Err(io_err("stat", &path, e)),
        }
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_err("delete", &path, e)),
        }
        // Prune now-empty parents up to (not including) the root; `remove_dir` only removes
        // empty directories, and committers recreate parents they find missing.
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == self.root || !d.starts_with(&self.root) || fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(true)
    }
}

/// A depth-first walk in ascending URI order. Directory entries are ordered by name with a `/`
/// appended to directories, which makes depth-first order equal to the byte order of the full
/// URIs; whole subtrees at or before the cursor, or outside the prefix, are skipped.
struct Walk<'a> {
    prefix: &'a str,
    cursor: Option<&'a str>,
    want: usize,
    out: Vec<String>,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Path, uri_base: &str) -> Result<(), Error> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            // Missing (never created, or pruned by a concurrent delete) or not a directory.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                return Ok(());
            }
            Err(e) => return Err(io_err("list", dir, e)),
        };
        let mut items: Vec<(String, bool, OsString)> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_err("list", dir, e))?;
            let os_name = entry.file_name();
            // Names that no valid URI can address are not objects.
            let Some(name) = os_name.to_str() else {
                continue;
            };
            if name.contains('\\') || (uri_base == SCHEME && name == STAGING) {
                continue;
            }
            let ty = match entry.file_type() {
                Ok(t) if t.is_symlink() => fs::metadata(entry.path()).map(|m| m.file_type()),
                t => t,
            };
            let Ok(ty) = ty else { continue };
            if ty.is_dir() {
                items.push((format!("{uri_base}{name}/"), true, os_name));
            } else if ty.is_file() {
                items.push((format!("{uri_base}{name}"), false, os_name));
            }
        }
        items.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (uri, is_dir, os_name) in items {
            if self.out.len() >= self.want {
                break;
            }
            if is_dir {
                // Skip subtrees disjoint from the prefix or entirely at/before the cursor.
                if !(uri.starts_with(self.prefix) || self.prefix.starts_with(&uri)) {
                    continue;
                }
                if self
                    .cursor
                    .is_some_and(|c| c > uri.as_str() && !c.starts_with(&uri))
                {
                    continue;
                }
                self.dir(&dir.join(&os_name), &uri)?;
            } else if uri.starts_with(self.prefix) && self.cursor.is_none_or(|c| uri.as_str() > c) {
                self.out.push(uri);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_paths() {
        assert_eq!(
            object_path("fs://blobs/sha256/ab/abcd").unwrap(),
            "blobs/sha256/ab/abcd"
        );
        for bad in [
            "fs://",
            "fs:///etc/passwd",
            "fs://../x",
            "fs://a/../../x",
            "fs://a/./b",
            "fs://a//b",
            "fs://a/",
            "fs://a\\b",
            "fs://a\0b",
            "fs://.staging/x",
            "mem://a",
            "a/b",
            "",
        ] {
            assert!(
                matches!(object_path(bad), Err(Error::InvalidArgument(_))),
                "{bad:?} accepted"
            );
        }
        assert!(object_path("fs://a/.staging").is_ok());
    }

    #[test]
    fn prefixes() {
        for ok in [
            "fs://",
            "fs://blobs",
            "fs://blobs/",
            "fs://blobs/sha256/a",
            "fs://.st",
        ] {
            assert!(prefix_path(ok).is_ok(), "{ok:?} rejected");
        }
        for bad in [
            "fs:///etc",
            "fs://../",
            "fs://a/../",
            "fs://a//b",
            "fs://..",
            "s3://x",
        ] {
            assert!(prefix_path(bad).is_err(), "{bad:?} accepted");
        }
    }
}
