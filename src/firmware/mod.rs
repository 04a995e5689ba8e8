//! Firmware: CI uploads a ZIP bundle (`<code>.bin`, `<code>.elf`, `<code>.map`, `sdkconfig`,
//! `version.json`) or a legacy raw `.bin`; crashbox validates it, reads the version out of the
//! app image, keeps the newest `MAX_FIRMWARES` versions per model, serves the current `.bin` to
//! devices and hands each version's `.elf` to the decoder.
//!
//! - [`app_image`]: the version in the `.bin`'s `esp_app_desc_t` (pure).
//! - [`bundle`]: ZIP checks with upstream's texts plus zip-bomb and path hardening (pure).
//! - [`retention`]: which versions an upload prunes (pure).
//! - [`download`]: ETag, `If-None-Match` and `Range` decisions (pure).
//! - [`service`]: upload, current image, list, download, delete, ELF lookup (blocking I/O + SQL).
//! - [`script`]: the `upload.sh` CI script.
//! - [`index`]: each bundle's symbolization index (built at upload and at start-up, read by
//!   the parse workers, rebuilt when unusable).
//! - [`reconcile`]: startup check of files against rows (adopts stored versions without a row).
//!
//! On disk (see `store::Layout`): `ASSETS_DIR/<code>/firmware-<version>.zip` (the bundle as
//! uploaded), `ASSETS_DIR/<code>/firmware-<version>.idx` (its symbolization index) and
//! `.elf` (its ELF, unpacked beside the index), `ASSETS_DIR/<code>/firmware-<version>.bin`
//! (its app image, streamed to devices) and
//! the legacy `ASSETS_DIR/firmware-<code>.bin` (always the current version's image).

pub mod app_image;
pub mod bundle;
pub mod download;
pub mod index;
pub mod reconcile;
pub mod retention;
pub mod script;
pub mod service;

pub use service::elf_for;
