//! Data in and out as CSV (RFC 4180, UTF-8): the columns an export writes, and how an imported
//! file's rows become leads through the same constructors as the API's. Parsing and checking
//! only; reading the body and writing the leads are the callers' business.

pub mod export;
pub mod import;
