//! `wasi:config/store@0.2.0-rc.1` forwarded to Spin's `wasi:config/store@0.2.0-draft-2024-09-27`
//! (see wit/world.wit): the artifact component's configuration dependency in spin.toml.
//!
//! Spin instantiates every dependency for every request, so this one is kept as small as a
//! component can be: `no_std`, no WASI imports, and a bump allocator (an instance answers a
//! request or two and is thrown away, so it never frees; [`HEAP`] bounds what it can take).
#![no_std]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

wit_bindgen::generate!({
    path: "wit",
    world: "artifact:spin-config-bridge/config-bridge",
    generate_all,
});

use exports::wasi::config0_2_0_rc_1::store as out;
use wasi::config0_2_0_draft_2024_09_27::store as inn;

struct Bridge;

fn err(e: inn::Error) -> out::Error {
    match e {
        inn::Error::Upstream(s) => out::Error::Upstream(s),
        inn::Error::Io(s) => out::Error::Io(s),
    }
}

impl out::Guest for Bridge {
    fn get(key: String) -> Result<Option<String>, out::Error> {
        inn::get(&key).map_err(err)
    }
    fn get_all() -> Result<Vec<(String, String)>, out::Error> {
        inn::get_all().map_err(err)
    }
}

export!(Bridge);

/// Bytes the bump allocator hands out over an instance's life; past it allocation fails (a
/// trap, through `handle_alloc_error`), which no configuration of sane size comes near.
const HEAP: usize = 256 << 10;

struct Bump {
    heap: UnsafeCell<[u8; HEAP]>,
    used: UnsafeCell<usize>,
}

// SAFETY: a wasm32 component instance is single-threaded.
unsafe impl Sync for Bump {}

unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let used = &mut *self.used.get();
        let base = self.heap.get() as *mut u8;
        let start = (base as usize + *used).next_multiple_of(layout.align()) - base as usize;
        match start.checked_add(layout.size()) {
            Some(end) if end <= HEAP => {
                *used = end;
                base.add(start)
            }
            _ => core::ptr::null_mut(),
        }
    }
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static ALLOC: Bump = Bump { heap: UnsafeCell::new([0; HEAP]), used: UnsafeCell::new(0) };

/// The canonical ABI's allocation entry point (Rust's std provides it on wasm32-wasip2; this
/// crate has no std): lowered strings and lists land in the bump heap.
///
/// # Safety
/// Called by the component model's lifting code with a pointer it got from here before.
#[no_mangle]
pub unsafe extern "C" fn cabi_realloc(old: *mut u8, old_len: usize, align: usize, new_len: usize) -> *mut u8 {
    if new_len == 0 {
        return align as *mut u8;
    }
    let p = ALLOC.alloc(Layout::from_size_align_unchecked(new_len, align));
    if p.is_null() {
        core::arch::wasm32::unreachable();
    }
    if old_len != 0 {
        core::ptr::copy_nonoverlapping(old, p, old_len.min(new_len));
    }
    p
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
