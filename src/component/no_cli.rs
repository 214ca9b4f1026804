//! Definitions that keep `wasi:cli` interfaces the component never uses out of its imports.
//!
//! Rust's std on `wasm32-wasip2` links wasi-libc, whose generated glue declares one function per
//! WASI import (`__wasm_import_<interface>_<function>`). The linker turns every such declaration
//! that something reachable calls into an import of the core module, so the component imported
//! nine `wasi:cli` interfaces only because std's panic hook reads `RUST_BACKTRACE`
//! (`environment`, and `exit` behind it) and because wasi-libc's descriptor table can open stdin
//! and stdout and ask whether each stream is a terminal. Every import costs each instantiation
//! (wasmtime resolves and wires every lowered import of a fresh instance) and each host must
//! supply it.
//!
//! A definition of the same symbol here satisfies those calls inside the module, so the import
//! disappears. What each one does is what a host offering nothing would answer:
//! - `environment.get-environment`: an empty environment (the component reads its settings
//!   through `wasi:config`; std's panic hook then prints the message without a backtrace).
//! - `terminal-stdin/stdout/stderr.get-terminal-*`: `none`, no stream is a terminal.
//! - `stdin.get-stdin`, `stdout.get-stdout`, `exit.exit` and the `terminal-input` /
//!   `terminal-output` resource drops: a trap. The component never reads
//!   stdin or writes stdout (its diagnostics go to stderr, which stays imported) and never exits;
//!   reaching one is a bug, and a trap is how every host already sees a guest's abort.
//!
//! `host/tests/it/imports.rs` checks that the shipped components' imports stay without these
//! (it fails when a toolchain's wasi-libc names its glue differently, so these stop matching).
//! It cannot see a dependency that starts reading stdin or writing stdout for real: that call
//! reaches the trap below, not a new import; a guest trap is a typed host error, never a crash.
//!
//! The signatures are wasi-libc's (canonical ABI, results through a return area), checked
//! against the linked module when this was written; a mismatch would make `wasm-ld` warn and
//! bind the call to a trapping stub instead.

/// `wasi:cli/environment.get-environment() -> list<tuple<string, string>>`: writes an empty
/// list (null pointer, zero length) to the return area.
#[unsafe(no_mangle)]
unsafe extern "C" fn __wasm_import_environment_get_environment(ret: *mut usize) {
    // SAFETY: wasi-libc passes a return area of two pointer-sized words (list pointer, length).
    unsafe {
        ret.write(0);
        ret.add(1).write(0);
    }
}

/// `wasi:cli/terminal-*.get-terminal-*() -> option<terminal-*>`: writes `none` (discriminant 0).
macro_rules! not_a_terminal {
    ($($name:ident),*) => {$(
        #[unsafe(no_mangle)]
        unsafe extern "C" fn $name(ret: *mut u8) {
            // SAFETY: wasi-libc passes a return area for an option (discriminant byte first).
            unsafe { ret.write(0) }
        }
    )*};
}
not_a_terminal!(
    __wasm_import_terminal_stdin_get_terminal_stdin,
    __wasm_import_terminal_stdout_get_terminal_stdout,
    __wasm_import_terminal_stderr_get_terminal_stderr
);

/// `wasi:cli/stdin.get-stdin() -> input-stream`: the component never reads stdin.
#[unsafe(no_mangle)]
extern "C" fn __wasm_import_stdin_get_stdin() -> u32 {
    core::arch::wasm32::unreachable()
}

/// `wasi:cli/stdout.get-stdout() -> output-stream`: the component never writes stdout.
#[unsafe(no_mangle)]
extern "C" fn __wasm_import_stdout_get_stdout() -> u32 {
    core::arch::wasm32::unreachable()
}

/// `wasi:cli/exit.exit(status)`: the component never exits; an abort traps as it always did.
#[unsafe(no_mangle)]
extern "C" fn __wasm_import_exit_exit(_status: u32) {
    core::arch::wasm32::unreachable()
}

/// `wasi:cli/terminal-input` and `terminal-output` resource drops: no terminal handle exists
/// (every `get-terminal-*` above answers `none`), so nothing can drop one.
#[unsafe(no_mangle)]
extern "C" fn __wasm_import_terminal_input_terminal_input_drop(_handle: u32) {
    core::arch::wasm32::unreachable()
}

/// See `__wasm_import_terminal_input_terminal_input_drop`.
#[unsafe(no_mangle)]
extern "C" fn __wasm_import_terminal_output_terminal_output_drop(_handle: u32) {
    core::arch::wasm32::unreachable()
}
