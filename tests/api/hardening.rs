//! Regressions for the holes a hostile reading of the API found, and for the
//! faults it must survive: each test fails on the code before its fix.
//! docs/reliability.md maps them to what they prove.

mod floods;
mod input;
mod mail;
mod tokens;
