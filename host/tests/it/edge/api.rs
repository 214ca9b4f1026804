//! The token API (`/v1/api/…`) over `artifact serve`: a writer token scoped to one bucket, a
//! read-only token for all; what the table in the README promises, and what a scope refuses.

use super::{get, Server};
use crate::common::{random_bytes, send, Home, Resp};
use artifact_component::encoding::{hex, percent_encode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use std::path::PathBuf;

const WRITER: &str = "vendor-writer-token-0001";
const READER: &str = "reader-of-everything-01";

fn tokens() -> String {
    format!("{WRITER}:rw:vendor,{READER}:ro:*")
}

fn api(server: &Server, method: &str, op: &str, token: &str, body: Option<&[u8]>) -> (u16, Value, Resp) {
    let auth = format!("Bearer {token}");
    let r = send(method, &format!("{}/v1/api/{op}", server.base), body, &[("Authorization", &auth)]);
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, v, r)
}

fn snapshot(h: &Home) -> (String, Vec<PathBuf>) {
    let o = h.cmd(&["ls", "--json", "--all"]);
    (String::from_utf8(o.stdout).unwrap(), h.blob_files())
}

#[test]
fn token_api_reads_writes_lists_manifests_and_signs_within_its_scope() {
    let home = Home::new();
    let server = home.serve_api(&tokens());
    let w = |m: &str, op: &str, body: Option<&[u8]>| api(&server, m, op, WRITER, body);

    // put (streamed, JSON out as the CLI prints it), head, get in each mode.
    let csv = b"id,v\n1,a\n2,b\n".to_vec();
    let (s, v, _) = w("PUT", "put?bucket=vendor&name=2026/a.csv&content_type=text/csv", Some(&csv));
    assert_eq!((s, v["created"].clone(), v["meta"]["sha256"].clone()), (201, json!(true), json!(hex(&Sha256::digest(&csv)))), "{v}");
    let a_id = v["meta"]["id"].as_str().unwrap().to_string();
    let (s, v, _) = w("PUT", "put?bucket=vendor&name=2026/b.json", Some(br#"{"rows":[1,2]}"#));
    assert_eq!(s, 201, "{v}");
    let (s, v, _) = w("GET", &format!("head?ref={}", percent_encode("vendor/2026/a.csv")), None);
    assert_eq!((s, v["meta"]["id"].clone()), (200, json!(a_id)));
    let (s, v, _) = w("GET", "get?ref=vendor%2F2026%2Fb.json", None);
    assert_eq!((s, v["data"].clone()), (200, json!({"rows": [1, 2]})));
    let (s, v, _) = w("GET", &format!("get?ref={a_id}&mode=text"), None);
    assert_eq!((s, v["data"].clone()), (200, json!("id,v\n1,a\n2,b\n")));
    let (s, _, r) = w("GET", &format!("get?ref={a_id}&mode=bytes&range=3-5"), None);
    assert_eq!((s, r.body.as_slice()), (200, &csv[3..=5]));

    // list with a cursor, newest first; summary.
    let (s, v, _) = w("GET", "list?bucket=vendor&limit=1", None);
    assert_eq!((s, v["records"].as_array().unwrap().len()), (200, 1));
    let cursor = v["next_cursor"].as_str().unwrap().to_string();
    let (_, v2, _) = w("GET", &format!("list?bucket=vendor&limit=1&cursor={}", percent_encode(&cursor)), None);
    assert_ne!(v["records"][0]["id"], v2["records"][0]["id"]);
    assert_eq!(w("GET", "summary?bucket=vendor", None).1["count"], json!(2));

    // A manifest: open, two parts added, completed; its parts.
    let (s, v, _) = w("POST", "manifest/create?bucket=vendor&name=batch&strategy=append", Some(b""));
    assert_eq!(s, 201, "{v}");
    for part in ["vendor/2026/a.csv", "vendor/2026/b.json"] {
        let (s, v, _) = w("POST", &format!("manifest/add?manifest=vendor%2Fbatch&part={}", percent_encode(part)), None);
        assert_eq!(s, 200, "{v}");
    }
    assert_eq!(w("POST", "manifest/complete?manifest=vendor%2Fbatch", None).0, 200);
    let (s, v, _) = w("GET", "manifest/parts?manifest=vendor%2Fbatch", None);
    assert_eq!((s, v["parts"].as_array().unwrap().len(), v["completed_at"].is_string()), (200, 2, true), "{v}");

    // Signed URLs minted through the API work on the same server.
    let (_, v, _) = w("POST", &format!("sign?ref={a_id}&ttl=5m"), None);
    let r = get(&format!("{}{}", server.base, v["url"].as_str().unwrap()), &[]);
    assert_eq!((r.status, r.body == csv), (200, true));
    let (_, v, _) = w("POST", "sign-upload?bucket=vendor&name=up.bin&max_bytes=1000", None);
    let up = format!("{}{}", server.base, v["url"].as_str().unwrap());
    assert_eq!(send("PUT", &up, Some(&random_bytes(1000, 1)), &[]).status, 201);
    assert_eq!(send("PUT", &super::upload::forge(&up, 2, |_| "x".into()), Some(b"x"), &[]).status, 403);

    // delete.
    let (s, v, _) = w("DELETE", "delete?ref=vendor%2Fup.bin", None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(w("GET", "head?ref=vendor%2Fup.bin", None).0, 404);

    // The read-only token reads everything and writes nothing; no token is 401.
    assert_eq!(api(&server, "GET", "summary?bucket=vendor", READER, None).0, 200);
    assert_eq!(api(&server, "PUT", "put?bucket=vendor&name=x", READER, Some(b"x")).0, 403);
    assert_eq!(api(&server, "GET", "list?bucket=vendor", "", None).0, 401);
    assert_eq!(api(&server, "GET", "list?bucket=vendor", "vendor-writer-token-0002", None).0, 401);
}

#[test]
fn a_token_scoped_to_one_bucket_cannot_touch_another() {
    let home = Home::new();
    let other = home.write("secret.json", br#"{"secret":true}"#);
    let o = home.json(&["put", &other, "--bucket", "finance", "--name", "q4.json"], true);
    let id = o["meta"]["id"].as_str().unwrap().to_string();
    let uri = o["meta"]["ref"].as_str().unwrap().to_string();
    let rr = o.to_string();
    let server = home.serve_api(&tokens());
    let (s, _, _) = api(&server, "POST", "manifest/create?bucket=vendor&name=mine&strategy=append", WRITER, Some(b""));
    assert_eq!(s, 201);
    let before = snapshot(&home);
    let mut ops: Vec<(&str, String, Option<Vec<u8>>)> = Vec::new();
    for r in [id.as_str(), "finance/q4.json", uri.as_str(), rr.as_str()] {
        let e = percent_encode(r);
        ops.push(("GET", format!("head?ref={e}"), None));
        ops.push(("GET", format!("get?ref={e}"), None));
        ops.push(("GET", format!("get?ref={e}&mode=bytes"), None));
        ops.push(("POST", format!("sign?ref={e}"), None));
        ops.push(("DELETE", format!("delete?ref={e}"), None));
        ops.push(("POST", format!("manifest/add?manifest=vendor%2Fmine&part={e}"), None));
        ops.push(("POST", "manifest/create?bucket=vendor&strategy=append".into(), Some(json!([r]).to_string().into_bytes())));
    }
    for op in ["list?bucket=finance", "summary?bucket=finance", "manifest/parts?manifest=finance%2Fq4.json"] {
        ops.push(("GET", op.into(), None));
    }
    ops.push(("PUT", "put?bucket=finance&name=q4.json&if_exists=overwrite".into(), Some(b"{}".to_vec())));
    ops.push(("POST", "sign-upload?bucket=finance&name=new.json".into(), None));
    ops.push(("POST", "manifest/create?bucket=finance&strategy=append".into(), Some(b"[]".to_vec())));
    assert!(ops.len() >= 30, "{} attempts", ops.len());
    let mut refused = 0;
    for (m, op, body) in &ops {
        let (s, v, r) = api(&server, m, op, WRITER, body.as_deref());
        assert!(matches!(s, 403 | 404), "{m} {op}: {s} {v}");
        let text = String::from_utf8_lossy(&r.body);
        assert!(!text.contains("\"secret\":true") && !text.contains("created_at") && !text.contains("/v1/"), "{m} {op} leaked: {text}");
        refused += 1;
    }
    eprintln!("{refused} of {} attempts on another bucket refused", ops.len());
    assert_eq!(snapshot(&home), before, "a refused call changed the store");
}

/// A large put through the API streams: the server's peak RSS stays bounded (256 MiB here;
/// `ARTIFACT_BIG_UPLOAD_MIB=1024` for 1 GiB).
#[test]
fn a_large_put_through_the_api_streams_in_bounded_memory() {
    let _heavy = crate::common::heavy();
    let mib = super::big_upload_mib();
    let home = Home::new();
    let server = home.serve_api(&tokens());
    let peak = server.put_big("/v1/api/put?bucket=vendor&name=big.bin", &format!("Authorization: Bearer {WRITER}\r\n"), mib);
    eprintln!("API put of {mib} MiB: server peak RSS {} MiB", peak >> 20);
}

/// A stored object corrupted on disk: the API never hands out its bytes as if they were good.
/// `mode=json` is an `integrity` error; `mode=bytes` streams and is cut before its end, so the
/// client sees a broken body, not a complete wrong one.
#[test]
fn a_corrupted_object_is_never_served_as_good_through_the_api() {
    let home = Home::new();
    let server = home.serve_api(&tokens());
    let data: Vec<u8> = br#"{"rows":["#.iter().copied().chain(random_bytes(600_000, 3).iter().map(|b| b'0' + b % 10)).chain(*br#"]}"#).collect();
    let (s, v, _) = api(&server, "PUT", "put?bucket=vendor&name=c.json&content_type=application/json", WRITER, Some(&data));
    assert_eq!(s, 201, "{v}");
    let blob = home.objects().join(v["meta"]["storage"]["uri"].as_str().unwrap().strip_prefix("fs://").unwrap());
    let mut stored = std::fs::read(&blob).unwrap();
    let at = stored.len() - 10;
    stored[at] ^= 1;
    std::fs::write(&blob, &stored).unwrap();
    let (s, v, _) = api(&server, "GET", "get?ref=vendor%2Fc.json", WRITER, None);
    assert_eq!((s, v["error"]["kind"].clone()), (500, json!("integrity")), "{v}");
    let resp = crate::common::agent()
        .get(&format!("{}/v1/api/get?ref=vendor%2Fc.json&mode=bytes", server.base))
        .set("Authorization", &format!("Bearer {WRITER}"))
        .call();
    if let Ok(resp) = resp {
        let mut got = Vec::new();
        let read = std::io::Read::read_to_end(&mut resp.into_reader(), &mut got);
        assert!(read.is_err() || got != stored, "a corrupted body was served whole as if it were good");
        assert!(read.is_err(), "the client cannot tell the body was cut ({} bytes read)", got.len());
    }
}
