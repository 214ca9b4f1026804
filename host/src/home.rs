//! The layout of an `ARTIFACT_HOME`: objects in `objects/` (the `fs` storage root), metadata in
//! `metadata.db` and compiled code in `cache/` beside it, so no object URI can name the store's
//! own files. Homes written before this layout (objects directly in the home, beside its
//! `metadata.db`) are moved into it on first open; a directory without `metadata.db` is never
//! moved.

use artifact_component::model::Error;
use std::path::{Path, PathBuf};

/// The `fs` storage root inside a home.
pub const OBJECTS: &str = "objects";
/// Entries of a home that are not objects.
const RESERVED: &[&str] = &[OBJECTS, "metadata.db", "metadata.db-wal", "metadata.db-shm", "metadata.db-journal", "cache"];
/// Where a migration collects objects before it publishes `objects/` with one rename.
const MIGRATING: &str = ".objects.migrating";

/// The storage root of `home`, migrating an older layout first.
pub fn objects_root(home: &Path) -> Result<PathBuf, Error> {
    let objects = home.join(OBJECTS);
    if objects.is_dir() {
        return Ok(objects);
    }
    let legacy = |name: &str| !RESERVED.contains(&name) && name != MIGRATING;
    let io = |what: &str, p: &Path, e: std::io::Error| Error::Storage(format!("{what} {}: {e}", p.display()));
    let entries: Vec<_> = match std::fs::read_dir(home) {
        Ok(rd) => rd.filter_map(Result::ok).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io("read home", home, e)),
    };
    let staging = home.join(MIGRATING);
    let old: Vec<_> = entries.iter().filter(|e| e.file_name().to_str().is_some_and(legacy)).collect();
    // Only a store moves: an older home always has its metadata.db. Any other directory given
    // as a home (a project folder, /tmp) keeps its files where they are and gains `objects/`.
    let older_home = home.join("metadata.db").is_file();
    if (old.is_empty() || !older_home) && !staging.exists() {
        return Ok(objects);
    }
    // Each move is a rename within the home; a migration killed half-way resumes here.
    std::fs::create_dir_all(&staging).map_err(|e| io("create", &staging, e))?;
    for e in old {
        let to = staging.join(e.file_name());
        std::fs::rename(e.path(), &to).map_err(|err| io("move", &e.path(), err))?;
    }
    std::fs::rename(&staging, &objects).map_err(|e| io("publish", &objects, e))?;
    Ok(objects)
}

/// The runtime builder of the store in `home` as every host opens it by default (the CLI, the
/// Python package): objects in `objects/` (an older layout is migrated first), SQLite metadata
/// in `metadata.db`, compiled code in `cache/`, `wasi:config` values from the environment.
pub fn builder(home: &Path) -> Result<crate::RuntimeBuilder, crate::HostError> {
    let home = std::path::absolute(home).unwrap_or_else(|_| home.to_path_buf());
    let objects = objects_root(&home)?;
    Ok(crate::Runtime::builder()
        .cache_dir(home.join("cache"))
        .storage(crate::storage::open(&format!("fs://{}", objects.display()))?)
        .metadata(crate::metadata::open(&format!("sqlite://{}", home.join("metadata.db").display()))?)
        .config_from_env())
}

/// Refuses a configuration whose `fs` storage root contains the metadata database or the code
/// cache: an object URI could then overwrite them.
pub fn check_separate(storage_root: &Path, own: &[(&str, &Path)]) -> Result<(), Error> {
    let root = std::path::absolute(storage_root).unwrap_or_else(|_| storage_root.to_path_buf());
    for (what, p) in own {
        let p = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        if p.starts_with(&root) {
            return Err(Error::InvalidArgument(format!(
                "the {what} {} is inside the fs storage root {}: keep the store's own files outside storage",
                p.display(),
                root.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_a_legacy_home_and_keeps_own_files() {
        let d = std::env::temp_dir().join(format!("home-mig-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("blobs/sha256/aa")).unwrap();
        std::fs::write(d.join("blobs/sha256/aa/x"), b"x").unwrap();
        std::fs::create_dir_all(d.join("results/E1")).unwrap();
        std::fs::write(d.join("metadata.db"), b"db").unwrap();
        std::fs::create_dir_all(d.join("cache")).unwrap();
        let root = objects_root(&d).unwrap();
        assert_eq!(std::fs::read(root.join("blobs/sha256/aa/x")).unwrap(), b"x");
        assert!(root.join("results/E1").is_dir());
        assert!(d.join("metadata.db").is_file() && d.join("cache").is_dir());
        assert!(!root.join("metadata.db").exists() && !d.join("blobs").exists());
        // Idempotent.
        assert_eq!(objects_root(&d).unwrap(), root);
        // A directory that is not an older home keeps its files.
        let plain = d.join("project");
        std::fs::create_dir_all(plain.join("src")).unwrap();
        std::fs::write(plain.join("README"), b"r").unwrap();
        assert_eq!(objects_root(&plain).unwrap(), plain.join(OBJECTS));
        assert!(plain.join("README").is_file() && plain.join("src").is_dir());
        assert!(check_separate(&root, &[("metadata database", &d.join("metadata.db"))]).is_ok());
        assert!(check_separate(&d, &[("metadata database", &d.join("metadata.db"))]).is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
