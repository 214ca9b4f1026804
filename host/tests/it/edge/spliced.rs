//! Bytes stored as they are served go from storage to the response body inside the host
//! (`storage.read-verified`, spliced by the component): every piece is checked against the
//! chunk digests the component supplied before any of its bytes leaves. Seen from outside: a
//! first piece that fails is refused before the head (500, not a 200 cut short, which is what
//! the component does when it reads through its own memory), a later one cuts the body at the
//! piece boundary, and ranges read only the pieces under them.

use super::{get, Home};
use crate::faults::raw_get;

const PIECE: usize = 256 << 10;

#[test]
fn storage_bytes_reach_the_body_checked_piece_by_piece_in_the_host() {
    let home = Home::new();
    let big = crate::common::random_bytes(2 * PIECE + 100_000, 21);
    let id = home.put("big.bin", &big, &[]);
    let server = home.serve(&[]);
    let url = home.sign(&server.base, &id, &[]);
    assert_eq!(get(&url, &[]).body, big);
    let r = get(&url, &[("Range", "bytes=200000-600000")]);
    assert_eq!((r.status, r.body.as_slice()), (206, &big[200_000..=600_000]));

    let blob = home.blob_files().into_iter().find(|p| std::fs::read(p).unwrap() == big).unwrap();
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = big.clone();
        f(&mut b);
        std::fs::write(&blob, &b).unwrap();
    };

    // The first piece fails its check in the host before anything is sent: an error, no head.
    with(&|b| b[10] ^= 1);
    let r = get(&url, &[]);
    assert_eq!((r.status, r.error_kind()), (500, "integrity".to_string()));
    let r = get(&url, &[("Range", "bytes=2-20")]);
    assert_eq!((r.status, r.error_kind()), (500, "integrity".to_string()));
    // Pieces not under the range are not read.
    let r = get(&url, &[("Range", "bytes=300000-300099")]);
    assert_eq!((r.status, r.body.as_slice()), (206, &big[300_000..300_100]));

    // The last piece fails: the two before it go out, then the body is cut; none of its bytes.
    with(&|b| b[2 * PIECE + 5] ^= 1);
    let (status, body) = raw_get(&url, &[]);
    assert_eq!(status, 200);
    assert!(body.len() <= 2 * PIECE, "{} bytes: bytes of the failed piece were sent", body.len());
    assert!(big.starts_with(&body), "a wrong byte was sent");
    // One byte more than recorded, or one less: refused (the size is checked before the read),
    // or cut at the last piece, which proves the object's end.
    for (what, f) in [("appended", (|b: &mut Vec<u8>| b.push(0)) as fn(&mut Vec<u8>)), ("truncated", |b| { b.pop(); })] {
        with(&f);
        let (status, body) = raw_get(&url, &[]);
        let cut = status == 200 && body.len() <= 2 * PIECE && big.starts_with(&body);
        assert!(status == 500 || cut, "{what}: {status}, {} bytes", body.len());
    }

    // The object gone under its record: refused before the head.
    std::fs::remove_file(&blob).unwrap();
    let r = get(&url, &[]);
    assert_eq!((r.status, r.error_kind()), (500, "integrity".to_string()));

    std::fs::write(&blob, &big).unwrap();
    assert_eq!(get(&url, &[]).body, big, "served whole again once the bytes are right");
    // HEAD reads nothing: its answer does not depend on the bytes.
    assert_eq!(crate::common::request("HEAD", &url, &[]).status, 200);

    // A small object (one piece, no stored index: nothing is read before the stream) gone.
    let small = crate::common::random_bytes(4096, 22);
    let small_id = home.put("small.bin", &small, &[]);
    let small_url = home.sign(&server.base, &small_id, &[]);
    assert_eq!(get(&small_url, &[]).body, small);
    let small_blob = home.blob_files().into_iter().find(|p| std::fs::read(p).unwrap() == small).unwrap();
    std::fs::remove_file(&small_blob).unwrap();
    let r = get(&small_url, &[]);
    assert_eq!((r.status, r.error_kind()), (500, "integrity".to_string()));
}
