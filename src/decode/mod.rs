//! Built-in core dump decoder.
