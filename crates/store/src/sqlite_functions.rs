//! SQL functions the SQLite backend registers on each of its reading connections.
//!
//! `has_word(word, prefix, text)` is the row-by-row check of one search word (see
//! [`domain::search::word_matches`]) for searches that match so many leads that the list walks
//! its own order. It is a Rust function rather than a `REGEXP`: compiling a regular expression
//! with Unicode classes took longer (about 0.5 ms, for every query) than the search it served.

use std::ffi::{CStr, c_int};

use libsqlite3_sys as ffi;
use sqlx::SqliteConnection;

const HAS_WORD: &CStr = c"has_word";

pub(crate) async fn register(connection: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    let mut handle = connection.lock_handle().await?;
    // SAFETY: the handle is an open connection, locked for the duration of the call; the
    // function keeps no state, so it needs no user data and no destructor.
    let code = unsafe {
        ffi::sqlite3_create_function_v2(
            handle.as_raw_handle().as_ptr(),
            HAS_WORD.as_ptr(),
            3,
            ffi::SQLITE_UTF8 | ffi::SQLITE_DETERMINISTIC,
            std::ptr::null_mut(),
            Some(has_word),
            None,
            None,
            None,
        )
    };
    if code == ffi::SQLITE_OK { Ok(()) } else { Err(sqlx::Error::Protocol(format!("registering has_word failed with code {code}"))) }
}

/// `has_word(word, prefix, text)`: 1 when `word` begins a word of `text`, 0 otherwise or when
/// either is NULL.
unsafe extern "C" fn has_word(context: *mut ffi::sqlite3_context, count: c_int, values: *mut *mut ffi::sqlite3_value) {
    // SAFETY: SQLite passes the registered number of arguments (3), valid for this call.
    let values = unsafe { std::slice::from_raw_parts(values, usize::try_from(count).unwrap_or(0)) };
    let matched = match values {
        // SAFETY: each value is valid for this call, and the text borrowed from it is dropped before returning.
        [word, prefix, text] => match unsafe { (text_of(*word), text_of(*text)) } {
            (Some(word), Some(text)) => domain::search::word_matches(word, unsafe { ffi::sqlite3_value_int(*prefix) } != 0, text),
            _ => false,
        },
        _ => false,
    };
    // SAFETY: the context is the one SQLite passed to this call.
    unsafe { ffi::sqlite3_result_int(context, c_int::from(matched)) };
}

/// The value as UTF-8 text, borrowed for the current call; `None` for NULL.
unsafe fn text_of<'a>(value: *mut ffi::sqlite3_value) -> Option<&'a str> {
    // SAFETY: `value` is valid for the call; SQLite converts it to UTF-8 text that stays valid
    // until the value changes, and `sqlite3_value_bytes` after `sqlite3_value_text` gives its length.
    unsafe {
        let pointer = ffi::sqlite3_value_text(value);
        if pointer.is_null() {
            return None;
        }
        let length = usize::try_from(ffi::sqlite3_value_bytes(value)).ok()?;
        std::str::from_utf8(std::slice::from_raw_parts(pointer, length)).ok()
    }
}
