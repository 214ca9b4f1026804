//! The host is a sandbox: memory, time and bytes per call are bounded, and exceeding a bound is
//! a typed error to the caller — the host keeps serving afterwards.

use artifact_component::model::{Body, Compression, GetOptions, Mode, PutOptions};
use artifact_host::storage::MemStorage;
use artifact_host::{metadata::MemMetadata, HostError, Limits, Runtime};
use std::sync::Arc;
use std::time::Duration;

fn runtime(limits: Limits) -> Runtime {
    Runtime::builder()
        .storage(Arc::new(MemStorage::default()))
        .metadata(Arc::new(MemMetadata::default()))
        .cache_dir(std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("artifact-code-cache"))
        .limits(limits)
        .build()
        .unwrap()
}

fn bytes_opts() -> GetOptions {
    GetOptions { mode: Some(Mode::Bytes), ..Default::default() }
}

#[test]
fn memory_limit_is_an_error_not_a_crash() {
    let rt = runtime(Limits::default().memory_bytes(8 << 20));
    let big = vec![1u8; 32 << 20];
    let e = rt.put(&big, &PutOptions::default()).unwrap_err();
    assert!(matches!(e, HostError::Memory(_)), "{e:?}");
    // The runtime still works for calls that fit.
    let p = rt.put(b"[1]", &PutOptions::default()).unwrap();
    assert!(p.created);
}

#[test]
fn deadline_interrupts_a_long_call() {
    let rt = runtime(Limits::default().call_timeout(Duration::from_millis(20)));
    let big: Vec<u8> = (0..64u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let opts = PutOptions { compression: Some(Compression::Gzip), ..Default::default() };
    let e = rt.put(&big, &opts).unwrap_err();
    assert!(matches!(e, HostError::Deadline(_)), "{e:?}");
    assert!(rt.put(b"[2]", &PutOptions::default()).is_ok());
}

#[test]
fn bytes_per_call_are_capped_and_chunking_still_works() {
    let rt = runtime(Limits::default().max_bytes_per_call(1 << 20));
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    for c in [Compression::None, Compression::Gzip] {
        // One call: the component hands storage pieces of at most 1 MiB.
        let p = rt.put(&data, &PutOptions { compression: Some(c), ..Default::default() }).unwrap();
        let g = rt.get(&p.record.id, &bytes_opts()).unwrap();
        assert_eq!(g.data, Body::Bytes(data.clone()), "{c:?}");
        let mut src: &[u8] = &data;
        let p = rt.put_stream(&mut src, &PutOptions { compression: Some(c), ..Default::default() });
        let p = match p {
            Ok(p) => p,
            Err(e) => panic!("{c:?}: streamed put must fit the cap: {e}"),
        };
        let g = rt.get(&p.record.id, &bytes_opts()).unwrap();
        assert_eq!(g.data, Body::Bytes(data.clone()), "{c:?}: reads are chunked to the cap");
    }
}
