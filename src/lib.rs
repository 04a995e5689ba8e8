//! crashbox: a self-contained appliance for ESP32 core dumps and firmware.
pub mod decode;
