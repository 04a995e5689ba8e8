//! Rollouts: which firmware each device is offered, and keeping a bad canary from spreading.
//!
//! - [`decide`]: the OTA decision table (pin > exclusion > canary > model target), pure.
//! - [`service`]: read and change a model's rollout (target, canary), promote, resume, a
//!   device's pin / exclusion / tag; every change with its audit entry in one transaction.
//! - [`halt`]: the automatic halt, decided inside the parse job's grouping commit.
//!
//! The model target is `device_models.firmware_version`: a firmware upload makes the new
//! version the target unless it says `target=false`, so without a canary or pins every device
//! is offered the newest upload, as before rollouts existed.

pub mod decide;
pub mod halt;
pub mod service;
