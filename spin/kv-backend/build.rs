//! A 128 KiB stack instead of Rust's 1 MiB default on wasm: the backend's deepest call is a
//! serde_json parse of a record (a few levels), and on Spin an instance's memory is set up and
//! reset for every request.
fn main() {
    if std::env::var("TARGET").is_ok_and(|t| t.starts_with("wasm32")) {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size=131072");
    }
}
