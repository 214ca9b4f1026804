//! A small stack: the bridge only copies strings, and on Spin an instance's memory is set up and
//! reset for every request.
fn main() {
    if std::env::var("TARGET").is_ok_and(|t| t.starts_with("wasm32")) {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size=16384");
    }
}
