//! SQL functions the SQLite backend registers on each of its reading connections
//! ([`crate::sqlite_readers`]).
//!
//! `has_word(word, prefix, text)` is the row-by-row check of one search word (see
//! [`domain::search::word_matches`]) for searches that match so many leads that the list walks
//! its own order. It is a Rust function rather than a `REGEXP`: compiling a regular expression
//! with Unicode classes took longer (about 0.5 ms, for every query) than the search it served.
//!
//! `nearest_rank(value, percent)` is the aggregate the reports rank with (see
//! [`domain::report::nearest_rank`]): it selects the rank from the collected values instead of
//! sorting them, as `ROW_NUMBER()` over a window did.

use std::ffi::{CStr, c_int};

use libsqlite3_sys as ffi;

type Scalar = unsafe extern "C" fn(*mut ffi::sqlite3_context, c_int, *mut *mut ffi::sqlite3_value);
type Final = unsafe extern "C" fn(*mut ffi::sqlite3_context);

/// A function by its name and arguments: a scalar one, or an aggregate's step and final.
struct Function {
    name: &'static CStr,
    arguments: c_int,
    scalar: Option<Scalar>,
    aggregate: Option<(Scalar, Final)>,
}

const FUNCTIONS: [Function; 2] = [
    Function { name: c"has_word", arguments: 3, scalar: Some(has_word), aggregate: None },
    Function { name: c"nearest_rank", arguments: 2, scalar: None, aggregate: Some((nearest_rank_step, nearest_rank_final)) },
];

/// Registers the functions on a connection.
pub(crate) fn register(connection: &rusqlite::Connection) -> rusqlite::Result<()> {
    // SAFETY: the handle is the borrowed connection's, open, and used by no other thread while
    // it is borrowed here (a connection is not `Sync`).
    let connection = unsafe { connection.handle() };
    for function in &FUNCTIONS {
        // SAFETY: the connection is open and ours for the call (see above); the functions keep
        // no state between calls but the aggregate's own context, which SQLite owns, so they
        // need no user data and no destructor.
        let code = unsafe {
            ffi::sqlite3_create_function_v2(
                connection,
                function.name.as_ptr(),
                function.arguments,
                ffi::SQLITE_UTF8 | ffi::SQLITE_DETERMINISTIC,
                std::ptr::null_mut(),
                function.scalar,
                function.aggregate.map(|(step, _)| step),
                function.aggregate.map(|(_, last)| last),
                None,
            )
        };
        if code != ffi::SQLITE_OK {
            return Err(rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some(format!("registering {:?}", function.name))));
        }
    }
    Ok(())
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

/// The values an aggregate `nearest_rank` has collected, and the percentile it asks for.
struct Ranked {
    values: Vec<i64>,
    percent: u8,
}

/// The aggregate's context: a pointer to its [`Ranked`], null until the first value arrives.
/// SQLite zeroes the context and calls the final function once, also when a statement is
/// reset before its end, which frees it.
unsafe fn ranked_slot(context: *mut ffi::sqlite3_context, size: usize) -> *mut *mut Ranked {
    // SAFETY: the context is the one SQLite passed to the current call.
    unsafe { ffi::sqlite3_aggregate_context(context, c_int::try_from(size).unwrap_or(0)).cast::<*mut Ranked>() }
}

/// `nearest_rank(value, percent)`'s step: keeps a value that is not NULL.
unsafe extern "C" fn nearest_rank_step(context: *mut ffi::sqlite3_context, count: c_int, values: *mut *mut ffi::sqlite3_value) {
    // SAFETY: SQLite passes the registered number of arguments (2), valid for this call.
    let values = unsafe { std::slice::from_raw_parts(values, usize::try_from(count).unwrap_or(0)) };
    let [value, percent] = values else { return };
    // SAFETY: each value is valid for this call; the slot is the aggregate's own context, null
    // only when SQLite is out of memory, and its pointer is either null or a `Ranked` boxed here.
    unsafe {
        if ffi::sqlite3_value_type(*value) == ffi::SQLITE_NULL {
            return;
        }
        let slot = ranked_slot(context, size_of::<*mut Ranked>());
        if slot.is_null() {
            ffi::sqlite3_result_error_nomem(context);
            return;
        }
        if (*slot).is_null() {
            let percent = u8::try_from(ffi::sqlite3_value_int(*percent)).unwrap_or(100);
            *slot = Box::into_raw(Box::new(Ranked { values: Vec::new(), percent }));
        }
        (**slot).values.push(ffi::sqlite3_value_int64(*value));
    }
}

/// `nearest_rank(value, percent)`'s result: the percentile of the values kept, or NULL without any.
unsafe extern "C" fn nearest_rank_final(context: *mut ffi::sqlite3_context) {
    // SAFETY: asking for size 0 allocates nothing; the slot, when there is one, holds null or a
    // `Ranked` boxed by the step, taken back exactly once here.
    unsafe {
        let slot = ranked_slot(context, 0);
        let ranked = if slot.is_null() || (*slot).is_null() {
            None
        } else {
            Some(Box::from_raw(std::mem::replace(&mut *slot, std::ptr::null_mut())))
        };
        match ranked.and_then(|mut ranked| domain::report::nearest_rank(&mut ranked.values, ranked.percent)) {
            Some(value) => ffi::sqlite3_result_int64(context, value),
            None => ffi::sqlite3_result_null(context),
        }
    }
}
