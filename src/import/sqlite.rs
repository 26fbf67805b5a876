//! The few SQLite calls the importer's reader needs, over the C library
//! directly (the one Diesel links, `libsqlite3-sys`).
//!
//! Why not Diesel's `SqliteConnection`: it builds every row through
//! `FromSql`, copies every text value into a `String` and checks its UTF-8
//! twice, which was about a third of the reader's time; here a row's values
//! are borrowed from SQLite and appended to the reader's batch buffer, once.
//! The whole unsafe surface is this file: one connection, owned, used by one
//! thread at a time; statements borrow it, so none outlives it.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use libsqlite3_sys as ffi;

/// What SQLite answered when a call failed.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SqliteError {
    pub message: String,
}

/// A value's storage class (`sqlite3_column_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageClass {
    Null,
    Integer,
    Real,
    Text,
    Blob,
}

pub struct Connection {
    raw: NonNull<ffi::sqlite3>,
}

// SAFETY: a connection opened in multi-thread mode may be used from any
// thread, one at a time; `&mut self` on every call that touches it (and
// statements borrowing it mutably) keep it to one at a time.
unsafe impl Send for Connection {}

impl Connection {
    /// Opens `uri` (a `file:` URI) read-only.
    pub fn open_read_only(uri: &str) -> Result<Self, SqliteError> {
        let uri = CString::new(uri).map_err(|_| SqliteError {
            message: "the path contains a NUL byte".into(),
        })?;
        let mut raw = ptr::null_mut();
        // SAFETY: `uri` is NUL-terminated; `raw` receives a handle (even on
        // most failures, which is then closed below).
        let code = unsafe {
            ffi::sqlite3_open_v2(
                uri.as_ptr(),
                &mut raw,
                ffi::SQLITE_OPEN_READONLY | ffi::SQLITE_OPEN_URI,
                ptr::null(),
            )
        };
        let Some(raw) = NonNull::new(raw) else {
            return Err(SqliteError {
                message: "out of memory".into(),
            });
        };
        let connection = Self { raw };
        if code != ffi::SQLITE_OK {
            return Err(connection.error());
        }
        Ok(connection)
    }

    /// The connection's last error message.
    fn error(&self) -> SqliteError {
        // SAFETY: the handle is open; sqlite3_errmsg returns a NUL-terminated
        // string it owns, copied here before any other call.
        let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.raw.as_ptr())) };
        SqliteError {
            message: message.to_string_lossy().into_owned(),
        }
    }

    /// Runs statements that return no rows.
    pub fn execute(&mut self, sql: &str) -> Result<(), SqliteError> {
        let sql = CString::new(sql).expect("the importer's SQL has no NUL");
        // SAFETY: open handle, NUL-terminated SQL, no callback.
        let code = unsafe {
            ffi::sqlite3_exec(
                self.raw.as_ptr(),
                sql.as_ptr(),
                None,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if code == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    /// Prepares `sql`. Several statements may be stepped in turn (the
    /// importer merges three scans); they share the connection's read
    /// transaction.
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>, SqliteError> {
        let mut raw = ptr::null_mut();
        // SAFETY: open handle; the length is given, so `sql` needs no NUL.
        let code = unsafe {
            ffi::sqlite3_prepare_v2(
                self.raw.as_ptr(),
                sql.as_ptr() as *const c_char,
                sql.len() as c_int,
                &mut raw,
                ptr::null_mut(),
            )
        };
        match NonNull::new(raw) {
            Some(raw) if code == ffi::SQLITE_OK => Ok(Statement {
                raw,
                connection: PhantomData,
            }),
            _ => Err(self.error()),
        }
    }

    /// Registers `rust_trim(text)`: `str::trim` (every Unicode white space,
    /// where SQLite's TRIM knows only spaces). NULL stays NULL; text that
    /// is not UTF-8 is trimmed after replacing its invalid bytes.
    pub fn register_rust_trim(&mut self) -> Result<(), SqliteError> {
        unsafe extern "C" fn rust_trim(
            context: *mut ffi::sqlite3_context,
            _count: c_int,
            arguments: *mut *mut ffi::sqlite3_value,
        ) {
            // SAFETY: SQLite calls this with one argument (registered with
            // nArg = 1); the text pointer is valid for `bytes` bytes until
            // the next call on that value; the result is copied by SQLite
            // (SQLITE_TRANSIENT) before `trimmed` is dropped.
            unsafe {
                let value = *arguments;
                if ffi::sqlite3_value_type(value) == ffi::SQLITE_NULL {
                    ffi::sqlite3_result_null(context);
                    return;
                }
                let text = ffi::sqlite3_value_text(value);
                let bytes = ffi::sqlite3_value_bytes(value) as usize;
                let slice = if text.is_null() {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(text, bytes)
                };
                let lossy = String::from_utf8_lossy(slice);
                let trimmed = lossy.trim();
                ffi::sqlite3_result_text(
                    context,
                    trimmed.as_ptr() as *const c_char,
                    trimmed.len() as c_int,
                    ffi::SQLITE_TRANSIENT(),
                );
            }
        }
        let name = c"rust_trim";
        // SAFETY: open handle, NUL-terminated name, a scalar function with
        // no user data and no destructor.
        let code = unsafe {
            ffi::sqlite3_create_function_v2(
                self.raw.as_ptr(),
                name.as_ptr(),
                1,
                ffi::SQLITE_UTF8 | ffi::SQLITE_DETERMINISTIC,
                ptr::null_mut::<c_void>(),
                Some(rust_trim),
                None,
                None,
                None,
            )
        };
        if code == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(self.error())
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // SAFETY: every statement borrowed the connection and was finalized
        // when it dropped; the handle is closed once.
        unsafe {
            ffi::sqlite3_close(self.raw.as_ptr());
        }
    }
}

/// A prepared statement; it borrows its connection (which is not `Sync`:
/// the statements of a connection stay on its thread).
pub struct Statement<'connection> {
    raw: NonNull<ffi::sqlite3_stmt>,
    connection: PhantomData<&'connection Connection>,
}

impl Statement<'_> {
    /// Moves to the next row: `Ok(true)` when there is one.
    pub fn step(&mut self) -> Result<bool, SqliteError> {
        // SAFETY: a prepared, not finalized statement.
        match unsafe { ffi::sqlite3_step(self.raw.as_ptr()) } {
            ffi::SQLITE_ROW => Ok(true),
            ffi::SQLITE_DONE => Ok(false),
            _ => Err(self.error()),
        }
    }

    fn error(&self) -> SqliteError {
        // SAFETY: a statement's handle is its connection's, open while the
        // statement lives; the message is copied at once.
        let message = unsafe {
            CStr::from_ptr(ffi::sqlite3_errmsg(ffi::sqlite3_db_handle(
                self.raw.as_ptr(),
            )))
        };
        SqliteError {
            message: message.to_string_lossy().into_owned(),
        }
    }

    /// The storage class of column `column` of the current row.
    pub fn storage_class(&self, column: c_int) -> StorageClass {
        // SAFETY: called after `step` answered a row; an out-of-range column
        // answers NULL.
        match unsafe { ffi::sqlite3_column_type(self.raw.as_ptr(), column) } {
            ffi::SQLITE_INTEGER => StorageClass::Integer,
            ffi::SQLITE_FLOAT => StorageClass::Real,
            ffi::SQLITE_TEXT => StorageClass::Text,
            ffi::SQLITE_BLOB => StorageClass::Blob,
            _ => StorageClass::Null,
        }
    }

    pub fn int64(&self, column: c_int) -> i64 {
        // SAFETY: as for `storage_class`.
        unsafe { ffi::sqlite3_column_int64(self.raw.as_ptr(), column) }
    }

    pub fn double(&self, column: c_int) -> f64 {
        // SAFETY: as for `storage_class`.
        unsafe { ffi::sqlite3_column_double(self.raw.as_ptr(), column) }
    }

    /// Column `column` as text, converted by SQLite when it is stored as
    /// something else (a REAL renders with 15 significant digits), as
    /// bytes: SQLite does not check that TEXT is UTF-8. Valid until the
    /// next call on this statement, which the borrow ensures.
    pub fn text_bytes(&mut self, column: c_int) -> &[u8] {
        // SAFETY: after a row; sqlite3_column_text must come before
        // sqlite3_column_bytes (the conversion sets the length); the
        // pointer stays valid until the statement steps, resets or is
        // finalized, all of which take `&mut self`.
        unsafe {
            let text = ffi::sqlite3_column_text(self.raw.as_ptr(), column);
            if text.is_null() {
                return &[];
            }
            let bytes = ffi::sqlite3_column_bytes(self.raw.as_ptr(), column) as usize;
            std::slice::from_raw_parts(text, bytes)
        }
    }
}

impl Drop for Statement<'_> {
    fn drop(&mut self) {
        // SAFETY: finalized once, before the connection closes (it is
        // borrowed for the statement's whole life).
        unsafe {
            ffi::sqlite3_finalize(self.raw.as_ptr());
        }
    }
}
