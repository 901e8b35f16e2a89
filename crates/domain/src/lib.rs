//! The rules of Opportunities, free of I/O: what a valid lead, note, activity, category,
//! client or staff member is, how a lead moves through the pipeline, who may do what, and
//! how pipeline statistics are computed. The storage and HTTP layers only move these types.

#![forbid(unsafe_code)]

pub mod activity;
pub mod agenda;
pub mod auth;
pub mod calendar;
pub mod category;
pub mod client;
pub mod duplicates;
pub mod error;
pub mod input;
pub mod lead_form;
pub mod money;
pub mod opportunity;
pub mod patch;
pub mod query;
pub mod report;
pub mod search;
pub mod session;
pub mod settings;
pub mod stats;
pub mod text;
pub mod timestamp;
pub mod transfer;
pub mod webhook;

pub use error::{Error, FieldErrors, Result};
pub use input::Input;
pub use money::Money;
pub use patch::Patch;
pub use timestamp::Timestamp;
