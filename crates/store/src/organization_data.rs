//! One organization's data out of a database, into another, or gone: what the platform operator
//! runs (`opportunities org export|import|delete`), never an organization's staff, who have no
//! route to it.
//!
//! An export is JSON lines: a header naming the format and its version, then one line per row,
//! `{"table": …, "row": {…}}`, table by table with parents before children, then a last line
//! counting the rows of each table, so that an import of a file cut short is refused. Rows are
//! read a page at a time in one snapshot, and inserted a batch at a time in one transaction, so
//! an organization of any size never sits in memory. Secrets and sessions stay behind; the
//! totals the database keeps are rebuilt by the import's inserts.

use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};

use domain::auth::ApiToken;
use domain::{Error, Result, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::service::retrying;
use crate::sql::COPIED;
use crate::{JsonRow, Store, Tx, tokens};

/// What the header's `format` says.
pub const FORMAT: &str = "opportunities-org-export";
/// The version this build writes and the only one it reads.
pub const VERSION: u32 = 1;
/// Rows an import inserts at once (the backend splits them further into statements).
const ROWS_PER_BATCH: usize = 1_000;
/// The longest line an import reads: far beyond any row the API accepts (its longest text
/// fields are a few thousand characters), short of letting a broken file exhaust memory.
const LINE_MAX: u64 = 4 * 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    org_id: Uuid,
    exported_at: Timestamp,
}

/// A row as an export writes it (an [`Entry::Row`] read back).
#[derive(Serialize)]
struct RowLine<'a> {
    table: &'a str,
    row: &'a JsonRow,
}

/// A line after the header.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Entry {
    Row {
        table: String,
        row: JsonRow,
    },
    /// The last line: how many rows of each table came before it.
    End {
        end: BTreeMap<String, u64>,
    },
}

#[derive(Debug, Serialize)]
pub struct Exported {
    pub org_id: Uuid,
    pub rows: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize)]
pub struct Imported {
    pub org_id: Uuid,
    pub rows: BTreeMap<String, u64>,
    /// A new API token of the first active owner: tokens and passwords do not travel, so this
    /// is how the organization is reached in its new database.
    pub owner_token: Option<OwnerToken>,
}

#[derive(Debug, Serialize)]
pub struct OwnerToken {
    pub staff_id: Uuid,
    pub token: String,
}

#[derive(Debug, Serialize)]
pub struct Deleted {
    pub org_id: Uuid,
    pub name: String,
    pub rows: BTreeMap<&'static str, u64>,
}

/// Writes every row of the organization that travels to `out`, as the database was when the
/// export began (rows written meanwhile are left out whole; writers are not held up).
pub async fn export(store: &dyn Store, org_id: Uuid, out: &mut (dyn Write + Send)) -> Result<Exported> {
    store.organization_name(org_id).await?.ok_or(Error::NotFound("organization"))?;
    write_line(out, &Header { format: FORMAT.into(), version: VERSION, org_id, exported_at: Timestamp::now() })?;
    let mut rows: BTreeMap<String, u64> = COPIED.iter().map(|table| (table.name.to_owned(), 0)).collect();
    store
        .export_organization(org_id, &mut |table, row| {
            *rows.entry(table.to_owned()).or_default() += 1;
            write_line(out, &RowLine { table, row })
        })
        .await?;
    // Deleted between the look-up and the snapshot: a file without it would import nothing.
    if rows.get("organizations") != Some(&1) {
        return Err(Error::NotFound("organization"));
    }
    write_line(out, &Entry::End { end: rows.clone() })?;
    out.flush().map_err(Error::internal)?;
    Ok(Exported { org_id, rows })
}

fn write_line(out: &mut dyn Write, value: &impl Serialize) -> Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(Error::internal)?;
    out.write_all(b"\n").map_err(Error::internal)
}

/// Recreates the organization of an export, ids kept, in one transaction: all of it or, on any
/// error (an organization or row that exists already, a reference to nothing, a file cut short
/// or of another version), nothing.
pub async fn import(store: &dyn Store, input: &mut dyn BufRead) -> Result<Imported> {
    let mut lines = Lines { input, number: 0 };
    let header: Header = lines.next()?.ok_or_else(|| invalid(1, "the file is empty"))?;
    if header.format != FORMAT || header.version != VERSION {
        let message = format!("this is not a version {VERSION} {FORMAT} file (it says {} version {})", header.format, header.version);
        return Err(invalid(1, &message));
    }
    let org_id = header.org_id;
    let mut tx = store.begin().await?;
    if let Some(name) = tx.organization_name(org_id).await? {
        return Err(Error::Conflict(format!("the organization {org_id} ({name}) exists in this database already; nothing was imported")));
    }
    let mut import = Import { org_id, table: 0, batch: Vec::new(), rows: BTreeMap::new(), owner: None };
    let expected = loop {
        match lines.next::<Entry>()? {
            Some(Entry::Row { table, row }) => import.add(tx.as_mut(), &table, row).await.map_err(|error| at_line(lines.number, error))?,
            Some(Entry::End { end }) => break end,
            None => return Err(invalid(lines.number, "the file ends without its last line (it was cut short); nothing was imported")),
        }
    };
    import.flush(tx.as_mut()).await.map_err(|error| at_line(lines.number, error))?;
    if lines.next::<Value>()?.is_some() {
        return Err(invalid(lines.number, "there is more after the last line; nothing was imported"));
    }
    if import.rows.get("organizations") != Some(&1) {
        return Err(invalid(lines.number, "the file holds no organization; nothing was imported"));
    }
    let counted: BTreeMap<String, u64> = import.rows.iter().filter(|(_, count)| **count > 0).map(|(k, v)| (k.clone(), *v)).collect();
    let announced: BTreeMap<String, u64> = expected.into_iter().filter(|(_, count)| *count > 0).collect();
    if counted != announced {
        return Err(invalid(lines.number, &format!("the last line counts {announced:?} rows, the file has {counted:?}")));
    }
    let owner_token = match import.owner {
        Some(staff_id) => Some(issue_owner_token(tx.as_mut(), org_id, staff_id).await?),
        None => None,
    };
    tx.commit().await?;
    Ok(Imported { org_id, rows: import.rows, owner_token })
}

/// What an import has inserted so far, and the rows of one table waiting to be.
struct Import {
    org_id: Uuid,
    /// The position in [`COPIED`] of the table being read: a row of an earlier one is out of order.
    table: usize,
    batch: Vec<JsonRow>,
    rows: BTreeMap<String, u64>,
    /// The first active owner among the staff.
    owner: Option<Uuid>,
}

impl Import {
    async fn add(&mut self, tx: &mut dyn Tx, table: &str, row: JsonRow) -> Result<()> {
        let position = COPIED.iter().position(|copied| copied.name == table);
        let position = position.ok_or_else(|| Error::Conflict(format!("this version does not know the table `{table}`")))?;
        if position < self.table {
            return Err(Error::Conflict(format!(
                "a row of {table} after those of {}: rows must come parents first",
                COPIED[self.table].name
            )));
        }
        let copied = &COPIED[position];
        if row.get(copied.owner) != Some(&Value::String(self.org_id.to_string())) {
            return Err(Error::Conflict(format!("a row of {table} that is not of the organization {}", self.org_id)));
        }
        if table == "staff"
            && self.owner.is_none()
            && row.get("role") == Some(&"owner".into())
            && row.get("is_active") == Some(&true.into())
        {
            self.owner = Some(copied.key_of(&row)?);
        }
        if position != self.table || self.batch.len() == ROWS_PER_BATCH {
            self.flush(tx).await?;
            self.table = position;
        }
        self.batch.push(row);
        *self.rows.entry(table.to_owned()).or_default() += 1;
        Ok(())
    }

    async fn flush(&mut self, tx: &mut dyn Tx) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let table = COPIED[self.table].name;
        tx.insert_organization_rows(table, &self.batch).await.map_err(|error| match error {
            // A unique value taken: the only ones shared between organizations are a lead form's key
            // (a row with an existing id would be of this organization, which does not exist here).
            Error::Contention => Error::Conflict(format!("a row of {table} has a key or id this database has already")),
            other => other,
        })?;
        self.batch.clear();
        Ok(())
    }
}

async fn issue_owner_token(tx: &mut dyn Tx, org_id: Uuid, staff_id: Uuid) -> Result<OwnerToken> {
    let token = tokens::generate();
    let issued = ApiToken {
        id: Uuid::now_v7(),
        org_id,
        staff_id,
        name: Some("issued by org import".into()),
        hash: tokens::hash(&token),
        created_at: Timestamp::now(),
    };
    tx.insert_token(&issued).await?;
    Ok(OwnerToken { staff_id, token })
}

/// The lines of an import, each read whole up to [`LINE_MAX`], counted from 1.
struct Lines<'a> {
    input: &'a mut dyn BufRead,
    number: usize,
}

impl Lines<'_> {
    /// The next line as a `T`, or `None` at the end of the file.
    fn next<T: for<'de> Deserialize<'de>>(&mut self) -> Result<Option<T>> {
        let mut line = String::new();
        let read =
            (&mut self.input).take(LINE_MAX + 1).read_line(&mut line).map_err(|error| invalid(self.number + 1, &error.to_string()))?;
        if read == 0 {
            return Ok(None);
        }
        self.number += 1;
        if line.len() as u64 > LINE_MAX {
            return Err(invalid(self.number, &format!("the line is longer than {LINE_MAX} bytes")));
        }
        serde_json::from_str(&line).map(Some).map_err(|error| invalid(self.number, &format!("not a line of an export: {error}")))
    }
}

fn invalid(line: usize, message: &str) -> Error {
    Error::Conflict(format!("line {line}: {message}"))
}

fn at_line(line: usize, error: Error) -> Error {
    match error {
        Error::Conflict(message) => invalid(line, &message),
        other => other,
    }
}

/// Deletes every row of the organization, in every table, in one transaction; `confirm` must be
/// its name exactly.
pub async fn delete(store: &dyn Store, org_id: Uuid, confirm: &str) -> Result<Deleted> {
    retrying(|| async {
        let mut tx = store.begin().await?;
        let name = tx.organization_name(org_id).await?.ok_or(Error::NotFound("organization"))?;
        if name != confirm {
            return Err(Error::Conflict(format!(
                "the organization {org_id} is named `{name}`: confirm with that name exactly; nothing was deleted"
            )));
        }
        let rows = tx.delete_organization(org_id).await?.into_iter().collect();
        tx.commit().await?;
        Ok(Deleted { org_id, name: name.clone(), rows })
    })
    .await
}
