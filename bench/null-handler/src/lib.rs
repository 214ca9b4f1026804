//! The null `wasi:http` handler of scenario 4 (benches/README.md): 200 and 4 KiB of zeros for
//! every request. What `artifact serve` does for it (accept, parse, instantiate, call, write) is
//! the floor under every signed read it serves.

wit_bindgen::generate!({
    path: ["../../wit", "wit"],
    world: "bench:null-handler/null-handler",
    generate_all,
});

use exports::wasi::http::incoming_handler::Guest;
use wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

static BODY: [u8; 4096] = [0; 4096];

struct Null;

impl Guest for Null {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let headers = Fields::new();
        let _ = headers.set("content-length", &[b"4096".to_vec()]);
        let resp = OutgoingResponse::new(headers);
        let Ok(body) = resp.body() else { return };
        ResponseOutparam::set(out, Ok(resp));
        if let Ok(stream) = body.write() {
            let _ = stream.blocking_write_and_flush(&BODY);
            drop(stream);
        }
        let _ = OutgoingBody::finish(body, None);
    }
}

export!(Null);
