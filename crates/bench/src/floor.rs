//! The storage floor: what the database engine itself does for a scenario, through its own
//! driver with no service code, on the same data in the same run. `÷ floor` in a report is
//! the share of it the service keeps over HTTP; it is what the design is judged by.
//!
//! Each connection is an operating-system thread with a connection of its own, and runs its
//! statements where it stands: rusqlite on SQLite, and on PostgreSQL sqlx's own connection
//! driven by a runtime on that thread (prepared statements, no pool). SQLite's writes share
//! one connection behind a lock, as SQLite has one writer; every write is its own durable
//! transaction (`synchronous=FULL` in WAL mode, PostgreSQL's default `synchronous_commit`).
//!
//! The statements are the least each operation needs, not the service's:
//! - `get`: the lead, its notes and its activities, every column read;
//! - `status_page`: the first 21 qualified leads, newest first, and their maintained total;
//! - `stats`: the organization's maintained totals by status and source, and by follow-up day;
//! - `create`: a sample lead copied under a new id and e-mail (the triggers keep the totals and,
//!   on SQLite, the word index); `update`: a new value and version; `note`: one note.
//!
//! Searches, reports and the agenda have no floor here: what they cost is the choice of index
//! and plan, which is the service's design rather than the engine's.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnection;
use sqlx::{Connection, Row};
use store::demo::rng::{Rng, mix};
use uuid::Uuid;

use crate::run::{ConnResult, Failure, Scenario, Settings, Stat, Workload, own_ids, summarize};

pub fn covers(scenario: Scenario) -> bool {
    matches!(scenario, Scenario::Get | Scenario::StatusPage | Scenario::Stats | Scenario::Create | Scenario::Update | Scenario::Note)
}

/// Measures the scenario's floor on `database` with the run's connections and timing.
pub async fn measure(scenario: Scenario, database: &str, work: &Arc<Workload>, settings: &Settings) -> Result<Stat, String> {
    let engine = Engine::open(database).await?;
    let (work, settings) = (work.clone(), settings.clone());
    tokio::task::spawn_blocking(move || on_threads(scenario, &engine, &work, &settings)).await.map_err(|e| e.to_string())?
}

fn on_threads(scenario: Scenario, engine: &Engine, work: &Workload, settings: &Settings) -> Result<Stat, String> {
    let connections = settings.connections.max(1);
    let measure_from = Instant::now() + settings.warmup;
    let end = measure_from + settings.duration;
    let results: Vec<Result<ConnResult, String>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..connections)
            .map(|index| {
                scope.spawn(move || {
                    let mut conn = FloorConn {
                        index,
                        rng: Rng::stream(mix(settings.seed ^ scenario as u64 ^ FLOOR_STREAM), index as u64),
                        own_ids: own_ids(work, index, connections),
                        session: engine.connect()?,
                        created: 0,
                    };
                    let (mut result, mut warned) = (ConnResult::default(), false);
                    loop {
                        let started = Instant::now();
                        if started >= end {
                            break;
                        }
                        let outcome = conn.execute(scenario, engine, work).map_err(Failure::Transport);
                        result.record(index, started >= measure_from, started.elapsed(), outcome, &mut warned);
                    }
                    conn.session.close();
                    Ok(result)
                })
            })
            .collect();
        threads.into_iter().map(|thread| thread.join().unwrap_or_else(|_| Err("a floor thread panicked".into()))).collect()
    });
    let mut all = ConnResult::default();
    for result in results {
        all.merge(result?);
    }
    Ok(summarize(all, measure_from, false))
}

/// Keeps the floor's random choices apart from the service's for the same scenario and seed.
const FLOOR_STREAM: u64 = 0xf1_00_0f;

/// The database, and what its statements need to know about the schema.
enum Engine {
    Sqlite {
        path: String,
        /// SQLite's one writer.
        writer: Mutex<rusqlite::Connection>,
        create: String,
    },
    Postgres {
        url: String,
        create: String,
    },
}

/// One floor connection's session.
enum Session {
    Sqlite(rusqlite::Connection),
    Postgres { runtime: tokio::runtime::Runtime, connection: PgConnection },
}

impl Session {
    /// Ends a PostgreSQL session at once, so that the next scenario's connections do not
    /// count against `max_connections` beside sessions the server has not yet seen go.
    fn close(self) {
        if let Session::Postgres { runtime, connection } = self {
            let _ = runtime.block_on(connection.close());
        }
    }
}

impl Engine {
    async fn open(database: &str) -> Result<Engine, String> {
        if let Some(rest) = database.strip_prefix("sqlite://").or_else(|| database.strip_prefix("sqlite:")) {
            let path = rest.split('?').next().unwrap_or(rest).to_owned();
            let writer = rusqlite::Connection::open(&path).map_err(|e| format!("cannot open {path}: {e}"))?;
            writer.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL").map_err(|e| e.to_string())?;
            writer.busy_timeout(Duration::from_secs(10)).map_err(|e| e.to_string())?;
            let columns = {
                let mut statement =
                    writer.prepare("SELECT name FROM pragma_table_info('opportunities') ORDER BY cid").map_err(|e| e.to_string())?;
                let names = statement.query_map([], |row| row.get::<_, String>(0)).map_err(|e| e.to_string())?;
                names.collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?
            };
            Ok(Engine::Sqlite { path, writer: Mutex::new(writer), create: copy_lead(&columns) })
        } else {
            let mut connection = PgConnection::connect(database).await.map_err(|e| format!("cannot connect to {database}: {e}"))?;
            let rows = sqlx::query(
                "SELECT column_name::text AS name FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = 'opportunities' AND is_generated = 'NEVER' \
                 ORDER BY ordinal_position",
            )
            .fetch_all(&mut connection)
            .await
            .map_err(|e| e.to_string())?;
            let columns: Vec<String> = rows.iter().map(|row| row.get("name")).collect();
            Ok(Engine::Postgres { url: database.to_owned(), create: copy_lead(&columns) })
        }
    }

    fn connect(&self) -> Result<Session, String> {
        match self {
            Engine::Sqlite { path, .. } => {
                let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let reader = rusqlite::Connection::open_with_flags(path, flags).map_err(|e| format!("cannot open {path}: {e}"))?;
                Ok(Session::Sqlite(reader))
            }
            Engine::Postgres { url, .. } => {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
                let connection = runtime.block_on(PgConnection::connect(url)).map_err(|e| format!("cannot connect to {url}: {e}"))?;
                Ok(Session::Postgres { runtime, connection })
            }
        }
    }
}

/// An insert copying lead `$4` of organization `$1` under the id `$2` and the e-mail `$3`;
/// `columns` leaves out generated ones (PostgreSQL's `search_text`), which the engine computes.
fn copy_lead(columns: &[String]) -> String {
    let values: Vec<&str> = columns
        .iter()
        .map(|column| match column.as_str() {
            "id" => "$2",
            "prospect_email" => "$3",
            other => other,
        })
        .collect();
    format!(
        "INSERT INTO opportunities ({}) SELECT {} FROM opportunities WHERE org_id = $1 AND id = $4",
        columns.join(", "),
        values.join(", ")
    )
}

const LEAD: &str = "SELECT * FROM opportunities WHERE org_id = $1 AND id = $2";
const NOTES: &str = "SELECT * FROM notes WHERE org_id = $1 AND opportunity_id = $2 ORDER BY created_at";
const ACTIVITIES: &str = "SELECT * FROM activities WHERE org_id = $1 AND opportunity_id = $2 ORDER BY created_at";
const STATUS_PAGE: &str =
    "SELECT * FROM opportunities WHERE org_id = $1 AND status = 'qualified' ORDER BY created_at DESC, id DESC LIMIT 21";
const STATUS_TOTAL: &str = "SELECT SUM(count) AS total FROM pipeline_org_totals WHERE org_id = $1 AND status = 'qualified'";
const PIPELINE_TOTALS: &str = "SELECT status, source, count, value_cents, weighted FROM pipeline_org_totals WHERE org_id = $1";
const FOLLOW_UP_TOTALS: &str = "SELECT day, count FROM follow_up_org_totals WHERE org_id = $1";

/// A value bound to a floor statement, whichever the engine.
enum Value {
    Id(Uuid),
    Int(i64),
    Text(String),
    /// The current instant: SQLite's integer microseconds, PostgreSQL's `now()`.
    Now,
}

struct FloorConn {
    index: usize,
    rng: Rng,
    own_ids: Vec<Uuid>,
    session: Session,
    created: u64,
}

impl FloorConn {
    fn execute(&mut self, scenario: Scenario, engine: &Engine, work: &Workload) -> Result<(), String> {
        let org = Value::Id(work.manifest.org_id);
        match scenario {
            Scenario::Get => {
                let id = *self.rng.pick(&work.manifest.sample_ids);
                for sql in [LEAD, NOTES, ACTIVITIES] {
                    self.read(sql, &[Value::Id(work.manifest.org_id), Value::Id(id)])?;
                }
                Ok(())
            }
            Scenario::StatusPage => {
                self.read(STATUS_PAGE, std::slice::from_ref(&org))?;
                self.read(STATUS_TOTAL, &[org])
            }
            Scenario::Stats => {
                self.read(PIPELINE_TOTALS, std::slice::from_ref(&org))?;
                self.read(FOLLOW_UP_TOTALS, &[org])
            }
            Scenario::Create => {
                self.created += 1;
                let email = format!("floor{}-{}-{:x}@example.org", self.index, self.created, self.rng.next_u64() & 0xffff_ffff);
                let model = *self.rng.pick(&work.manifest.sample_ids);
                let sql = match engine {
                    Engine::Sqlite { create, .. } | Engine::Postgres { create, .. } => create.as_str(),
                };
                self.write(engine, sql, &[org, Value::Id(Uuid::now_v7()), Value::Text(email), Value::Id(model)])
            }
            Scenario::Update => {
                let id = *self.rng.pick(&self.own_ids);
                let cents = i64::try_from(self.rng.below(1_000_000)).unwrap_or(0);
                let sql = "UPDATE opportunities SET estimated_value = $3, updated_at = $4, version = version + 1 \
                           WHERE org_id = $1 AND id = $2";
                self.write(engine, sql, &[org, Value::Id(id), Value::Int(cents), Value::Now])
            }
            Scenario::Note => {
                let id = *self.rng.pick(&work.manifest.sample_ids);
                let author = Value::Id(work.manifest.staff_ids.first().copied().ok_or("the manifest names no staff")?);
                let sql = "INSERT INTO notes (org_id, id, opportunity_id, content, created_by, created_at) \
                           VALUES ($1, $2, $3, $4, $5, $6)";
                let content = Value::Text(format!("Floor note {} from connection {}", self.created, self.index));
                self.write(engine, sql, &[org, Value::Id(Uuid::now_v7()), Value::Id(id), content, author, Value::Now])
            }
            other => Err(format!("{} has no floor", other.name())),
        }
    }

    /// Runs a query and reads every column of every row.
    fn read(&mut self, sql: &str, values: &[Value]) -> Result<(), String> {
        match &mut self.session {
            Session::Sqlite(connection) => {
                let mut statement = connection.prepare_cached(sql).map_err(|e| e.to_string())?;
                bind_sqlite(&mut statement, values)?;
                let columns = statement.column_count();
                let mut rows = statement.raw_query();
                while let Some(row) = rows.next().map_err(|e| e.to_string())? {
                    for i in 0..columns {
                        let _ = row.get::<_, rusqlite::types::Value>(i).map_err(|e| e.to_string())?;
                    }
                }
                Ok(())
            }
            Session::Postgres { runtime, connection } => {
                runtime.block_on(bind_postgres(sql, values).fetch_all(&mut *connection)).map(drop).map_err(|e| e.to_string())
            }
        }
    }

    /// Runs a write as its own durable transaction.
    fn write(&mut self, engine: &Engine, sql: &str, values: &[Value]) -> Result<(), String> {
        match (&mut self.session, engine) {
            (Session::Sqlite(_), Engine::Sqlite { writer, .. }) => {
                let writer = writer.lock().unwrap_or_else(PoisonError::into_inner);
                let mut statement = writer.prepare_cached(sql).map_err(|e| e.to_string())?;
                bind_sqlite(&mut statement, values)?;
                statement.raw_execute().map(drop).map_err(|e| e.to_string())
            }
            (Session::Postgres { runtime, connection }, _) => {
                runtime.block_on(bind_postgres(sql, values).execute(&mut *connection)).map(drop).map_err(|e| e.to_string())
            }
            _ => Err("a session of another engine".into()),
        }
    }
}

/// Binds each `$n` by name, as SQLite numbers named parameters in order of appearance.
fn bind_sqlite(statement: &mut rusqlite::CachedStatement<'_>, values: &[Value]) -> Result<(), String> {
    for (n, value) in values.iter().enumerate() {
        let Some(index) = statement.parameter_index(&format!("${}", n + 1)).map_err(|e| e.to_string())? else { continue };
        let bound = match value {
            Value::Id(id) => statement.raw_bind_parameter(index, id.as_bytes().as_slice()),
            Value::Int(n) => statement.raw_bind_parameter(index, n),
            Value::Text(text) => statement.raw_bind_parameter(index, text),
            Value::Now => statement.raw_bind_parameter(index, domain::Timestamp::now().unix_micros()),
        };
        bound.map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn bind_postgres<'q>(sql: &'q str, values: &'q [Value]) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    values.iter().fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |query, value| match value {
        Value::Id(id) => query.bind(*id),
        Value::Int(n) => query.bind(*n),
        Value::Text(text) => query.bind(text.as_str()),
        Value::Now => query.bind(sqlx::types::time::OffsetDateTime::now_utc()),
    })
}
