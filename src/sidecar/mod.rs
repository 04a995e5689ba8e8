//! The parse-sidecar protocol, server side: `crashbox sidecar` answers
//! `GET /parse-coredump?core=<file>&elf=<file>&chip=<chip>` with `{"output": "<report>"}` using the
//! built-in decoder, so crashbox can stand in for the gdb sidecar of the original Python system.
//! (The client side, used by the parse workers, is `worker::sidecar`.)

pub mod server;
