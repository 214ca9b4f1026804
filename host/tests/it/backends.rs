//! Every backend against the one conformance suite, plus backend-specific checks.

use artifact_component::backend::mem::{MemMetadata, MemStorage};
use artifact_component::backend::{Metadata, Publish, Storage};
use artifact_component::model::Error;
use artifact_host::conformance::{self, MetadataCaps, StorageCaps};
use artifact_host::metadata::sqlite::SqliteMetadata;
use artifact_host::storage::fs::FsStorage;
use std::path::Path;

fn fs_storage() -> (tempfile::TempDir, FsStorage) {
    let dir = tempfile::tempdir().unwrap();
    let s = FsStorage::open(dir.path().join("root").to_str().unwrap()).unwrap();
    (dir, s)
}

/// Files under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn mem_storage_conforms() {
    // The in-memory reference store keeps any URI as a map key.
    conformance::storage_suite(
        &MemStorage::default(),
        StorageCaps::default().validates_uris(false),
    );
}

#[test]
fn fs_storage_conforms() {
    let (_dir, s) = fs_storage();
    conformance::storage_suite(&s, StorageCaps::default());
    assert!(
        files(&s.root().join(".staging")).is_empty(),
        "suite left staging files behind"
    );
}

#[test]
fn mem_metadata_conforms() {
    conformance::metadata_suite(&MemMetadata::default(), MetadataCaps::default());
}

#[test]
fn sqlite_metadata_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let m = SqliteMetadata::open(dir.path().join("db/meta.sqlite").to_str().unwrap()).unwrap();
    conformance::metadata_suite(&m, MetadataCaps::default());
}

#[test]
fn sqlite_in_memory_conforms() {
    conformance::metadata_suite(
        &SqliteMetadata::open(":memory:").unwrap(),
        MetadataCaps::default(),
    );
}

#[test]
fn fs_rejects_path_escapes() {
    let (dir, s) = fs_storage();
    for uri in [
        "fs://../x",
        "fs:///etc/passwd",
        "fs://a/../../x",
        "fs://a/..",
        "fs://./x",
        "fs://.staging/x",
        "fs://a\\..\\..\\x",
        "mem://x",
    ] {
        let mut w = s.create_writer("fs").unwrap();
        w.write(b"escape").unwrap();
        let r = w.commit(uri, Publish::Overwrite);
        assert!(
            matches!(r, Err(Error::InvalidArgument(_))),
            "{uri:?}: {r:?}"
        );
        assert!(
            matches!(s.read(uri, 0, 1), Err(Error::InvalidArgument(_))),
            "{uri:?}"
        );
        assert!(
            matches!(s.delete(uri), Err(Error::InvalidArgument(_))),
            "{uri:?}"
        );
    }
    // Nothing was written anywhere: the root's parent holds only the root, which holds nothing.
    assert!(files(dir.path()).is_empty(), "{:?}", files(dir.path()));
    assert!(s.create_writer("mem").is_err());
}

#[test]
fn fs_staged_object_is_not_in_final_location() {
    let (_dir, s) = fs_storage();
    let uri = "fs://blobs/sha256/ab/abcdef";
    let final_path = s.root().join("blobs/sha256/ab/abcdef");
    let mut w = s.create_writer("fs").unwrap();
    w.write(&vec![7u8; 1 << 20]).unwrap();
    assert!(
        !final_path.exists(),
        "staged object is in the final location"
    );
    assert_eq!(
        files(&s.root().join(".staging")).len(),
        1,
        "one staging file while writing"
    );
    assert!(w.commit(uri, Publish::IfAbsent).unwrap());
    assert_eq!(std::fs::metadata(&final_path).unwrap().len(), 1 << 20);
    assert!(
        files(&s.root().join(".staging")).is_empty(),
        "staging file left after commit"
    );

    // A losing IfAbsent commit also cleans up, and so does a dropped writer.
    let mut w = s.create_writer("fs").unwrap();
    w.write(b"loser").unwrap();
    assert!(!w.commit(uri, Publish::IfAbsent).unwrap());
    let mut w = s.create_writer("fs").unwrap();
    w.write(b"dropped").unwrap();
    drop(w);
    assert!(
        files(&s.root().join(".staging")).is_empty(),
        "staging files left behind"
    );
}

#[test]
fn fs_crash_left_staging_file_is_not_listed() {
    let (_dir, s) = fs_storage();
    let mut w = s.create_writer("fs").unwrap();
    w.write(b"half").unwrap();
    std::mem::forget(w); // a crash: the staging file stays
    std::fs::write(s.root().join(".staging/orphan"), b"orphan").unwrap();
    let mut w = s.create_writer("fs").unwrap();
    w.write(b"real").unwrap();
    assert!(w.commit("fs://x/real", Publish::IfAbsent).unwrap());
    let (uris, next) = s.list_objects("fs://", None, 1000).unwrap();
    assert_eq!(uris, vec!["fs://x/real".to_string()]);
    assert_eq!(next, None);
    assert!(s.list_objects("fs://.st", None, 10).unwrap().0.is_empty());
    assert_eq!(s.stat("fs://x/real").unwrap(), Some(4));
}

#[test]
fn fs_reopen_relative_root_and_delete_prunes() {
    // A relative root (walk up from the working directory to `/`, then down to a tempdir).
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cwd = std::env::current_dir().unwrap();
    let up = "../".repeat(cwd.components().count());
    let rel = format!(
        "{up}{}",
        dir.path()
            .join("rel-root")
            .to_str()
            .unwrap()
            .trim_start_matches('/')
    );
    let s = FsStorage::open(&rel).unwrap();
    assert!(
        s.root().is_absolute() && s.root().ends_with("rel-root"),
        "{:?}",
        s.root()
    );
    let mut w = s.create_writer("fs").unwrap();
    w.write(b"data").unwrap();
    assert!(w
        .commit("fs://results/e1/step/out.json", Publish::IfAbsent)
        .unwrap());
    // A second handle on the same root sees the object.
    let again = FsStorage::open(s.root().to_str().unwrap()).unwrap();
    assert_eq!(
        again.read("fs://results/e1/step/out.json", 1, 2).unwrap(),
        b"at"
    );
    assert!(again.delete("fs://results/e1/step/out.json").unwrap());
    assert!(
        !s.root().join("results").exists(),
        "empty parents are pruned"
    );
    assert!(s.root().exists() && s.root().join(".staging").exists());
    // Directories are not objects.
    std::fs::create_dir_all(s.root().join("d/e")).unwrap();
    assert_eq!(s.stat("fs://d").unwrap(), None);
    assert!(matches!(s.read("fs://d", 0, 1), Err(Error::NotFound(_))));
    assert!(!s.delete("fs://d").unwrap());
    // An object path under an existing file is simply absent.
    std::fs::write(s.root().join("f"), b"file").unwrap();
    assert_eq!(s.stat("fs://f/g").unwrap(), None);
    assert!(matches!(s.read("fs://f/g", 0, 1), Err(Error::NotFound(_))));
    drop(dir);
}

#[test]
fn sqlite_is_shared_between_handles_and_tracks_access() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let path = path.to_str().unwrap();
    let a = SqliteMetadata::open(path).unwrap();
    let b = SqliteMetadata::open(path).unwrap();
    let now = artifact_component::ids::now_ms();
    let id = artifact_component::ids::new_id(now);
    let rec = artifact_component::model::Record {
        id: id.clone(),
        bucket: "b".into(),
        name: "n".into(),
        logical_ref: format!("noetl://artifact/{id}"),
        created_at: now,
        ..Default::default()
    };
    assert!(a.insert_if_absent(&rec).unwrap().created);
    let mut other = rec.clone();
    other.id = artifact_component::ids::new_id(now);
    other.logical_ref = format!("noetl://artifact/{}", other.id);
    let got = b.insert_if_absent(&other).unwrap();
    assert!(!got.created);
    assert_eq!(got.record, rec);
    assert_eq!(a.access(&id).unwrap(), Some((None, 0)));
    b.touch(&id, now + 5).unwrap();
    a.touch(&id, now + 3).unwrap();
    // Reads are counted in memory and written in batches: b sees its own at once, a's once a
    // writes them (a second later, a full batch, a flush or a drop).
    assert_eq!(b.access(&id).unwrap(), Some((Some(now + 5), 1)));
    a.flush_reads().unwrap();
    assert_eq!(b.access(&id).unwrap(), Some((Some(now + 5), 2)));
    a.touch(&id, now + 9).unwrap();
    drop(a);
    assert_eq!(b.access(&id).unwrap(), Some((Some(now + 9), 3)), "dropping a handle writes its counts");
    let a = SqliteMetadata::open(path).unwrap();
    for _ in 0..10 {
        a.touch(&id, now).unwrap();
    }
    std::thread::sleep(artifact_host::metadata::sqlite::TOUCH_FLUSH);
    a.touch(&id, now).unwrap();
    assert_eq!(b.access(&id).unwrap(), Some((Some(now + 9), 14)), "counts older than TOUCH_FLUSH are written");
    assert_eq!(a.access("nope").unwrap(), None);
    // Timestamps beyond the storable range are rejected, not wrapped.
    let mut huge = rec.clone();
    huge.created_at = u64::MAX;
    assert!(matches!(a.update(&huge), Err(Error::InvalidArgument(_))));
}
