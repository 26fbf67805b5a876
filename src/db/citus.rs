//! The schema distributed on Citus: `accounts` a reference table (a copy on
//! every node), every tenant table sharded by `account_id`, all co-located.
//!
//! Co-location is what keeps a request on one shard: every table's rows of
//! one account live in shards on the same node, so a statement that filters
//! on one `account_id` (every statement of the service does; row-level
//! security is the second wall) is routed whole to that node, joins and
//! foreign keys included, and the per-account counters, numbers and
//! idempotency keys are locked there as on a single server.
//!
//! Distribution runs after the migrations (`run_pending` calls it when the
//! `citus` extension is installed; `invoiced distribute` for a database that
//! was migrated before). Citus does not allow a foreign key between a local
//! table and a distributed one in either direction, so tables linked by
//! foreign keys cannot be distributed one at a time: the foreign keys that
//! touch a table still to be distributed are dropped, the tables
//! distributed, and the keys added back from their catalog definitions
//! (which validates them), all in one transaction, with the tables' own
//! triggers off while existing rows are copied. A later migration that
//! creates a tenant table with a foreign key to a distributed one cannot
//! add that key on Citus while the new table is still local (and the keys
//! set aside here are only those that existed): there it has to create
//! the table, distribute it (`create_distributed_table`, co-located), and
//! then add the key.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

/// The table every node holds whole: the tenant registry.
const REFERENCE_TABLE: &str = "accounts";

/// The column every tenant table is sharded by.
const DISTRIBUTION_COLUMN: &str = "account_id";

/// What a call to [`distribute`] changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Distribution {
    /// Tables made reference tables by this call.
    pub reference: Vec<String>,
    /// Tables sharded by `account_id` by this call, in the order done.
    pub distributed: Vec<String>,
    /// Functions of the schema this call made Citus keep on every node.
    pub functions: Vec<String>,
}

impl Distribution {
    pub fn is_empty(&self) -> bool {
        self.reference.is_empty() && self.distributed.is_empty() && self.functions.is_empty()
    }
}

#[derive(QueryableByName)]
struct Function {
    #[diesel(sql_type = Text)]
    signature: String,
}

#[derive(QueryableByName)]
struct Present {
    #[diesel(sql_type = Bool)]
    present: bool,
}

/// Whether this database is a Citus coordinator (the extension installed).
pub fn is_citus(conn: &mut PgConnection) -> QueryResult<bool> {
    let row: Present = diesel::sql_query(
        "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') AS present",
    )
    .get_result(conn)?;
    Ok(row.present)
}

#[derive(QueryableByName, Debug)]
struct Placement {
    #[diesel(sql_type = Text)]
    table_name: String,
    /// Whether the table has the distribution column.
    #[diesel(sql_type = Bool)]
    tenant: bool,
    /// Whether Citus already places it (reference or distributed).
    #[diesel(sql_type = Bool)]
    placed: bool,
}

#[derive(QueryableByName)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    drop: String,
    #[diesel(sql_type = Text)]
    create: String,
}

/// Distributes what is not yet distributed (see the module's comment);
/// does nothing on a database without Citus or one already distributed.
pub fn distribute(conn: &mut PgConnection) -> QueryResult<Distribution> {
    if !is_citus(conn)? {
        return Ok(Distribution::default());
    }
    let tables: Vec<Placement> = diesel::sql_query(
        "SELECT c.relname::text AS table_name,
                EXISTS (SELECT FROM pg_attribute a
                        WHERE a.attrelid = c.oid AND a.attname = $1 AND NOT a.attisdropped) AS tenant,
                EXISTS (SELECT FROM pg_dist_partition p
                        WHERE p.logicalrelid = c.oid AND p.partmethod IN ('h', 'n')
                          AND p.colocationid <> 0) AS placed
         FROM pg_class c
         WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
           AND c.relname NOT LIKE '\\_\\_diesel%'
         ORDER BY c.relname",
    )
    .bind::<Text, _>(DISTRIBUTION_COLUMN)
    .load(conn)?;
    let reference: Vec<String> = tables
        .iter()
        .filter(|t| t.table_name == REFERENCE_TABLE && !t.placed)
        .map(|t| t.table_name.clone())
        .collect();
    let distributed: Vec<String> = tables
        .iter()
        .filter(|t| t.tenant && !t.placed)
        .map(|t| t.table_name.clone())
        .collect();
    // The schema's own functions (not extensions'), unless Citus already
    // keeps them on every node. It does so by itself for functions created
    // once the extension is there, and for the trigger functions of the
    // tables it distributes, but not for the functions those call (the
    // guards' invoice_total and invoice_settled) when the schema was
    // migrated before Citus was installed.
    let functions: Vec<String> = diesel::sql_query(
        "SELECT p.oid::regprocedure::text AS signature
         FROM pg_proc p
         WHERE p.pronamespace = current_schema()::regnamespace
           AND NOT EXISTS (SELECT FROM pg_depend d
                           WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
           AND NOT EXISTS (SELECT FROM pg_dist_object o
                           WHERE o.classid = 'pg_proc'::regclass AND o.objid = p.oid)
         ORDER BY 1",
    )
    .load::<Function>(conn)?
    .into_iter()
    .map(|f| f.signature)
    .collect();
    let done = Distribution {
        reference,
        distributed,
        functions,
    };
    if done.is_empty() {
        return Ok(done);
    }
    conn.transaction(|conn| {
        // Sequential: Citus refuses a parallel multi-shard command after a
        // reference table was written in the same transaction, and one
        // connection per node is all this needs.
        conn.batch_execute(
            "SET LOCAL citus.multi_shard_modify_mode = 'sequential';
             SET LOCAL citus.enable_unsafe_triggers = on",
        )?;
        let moving: Vec<String> = done
            .reference
            .iter()
            .chain(&done.distributed)
            .cloned()
            .collect();
        let foreign_keys: Vec<ForeignKey> = diesel::sql_query(
            "SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', con.conrelid::regclass, con.conname) AS drop,
                    format('ALTER TABLE %s ADD CONSTRAINT %I %s', con.conrelid::regclass, con.conname,
                           pg_get_constraintdef(con.oid)) AS create
             FROM pg_constraint con
             WHERE con.contype = 'f'
               AND (con.conrelid::regclass::text = ANY($1) OR con.confrelid::regclass::text = ANY($1))
             ORDER BY con.conrelid::regclass::text, con.conname",
        )
        .bind::<diesel::sql_types::Array<Text>, _>(&moving)
        .load(conn)?;
        for key in &foreign_keys {
            conn.batch_execute(&key.drop)?;
        }
        // Rows already there are copied into the shards, and the copy would
        // fire the tables' triggers (taking ids, claiming numbers) for rows
        // that have theirs: off while they move, as for a restore.
        for table in &moving {
            conn.batch_execute(&format!("ALTER TABLE {} DISABLE TRIGGER USER", ident(table)))?;
        }
        for table in &done.reference {
            diesel::sql_query("SELECT create_reference_table($1::regclass)")
                .bind::<Text, _>(table)
                .execute(conn)?;
        }
        // Co-located with the first tenant table Citus already placed, or
        // with the first one placed now.
        let mut colocate_with = tables
            .iter()
            .find(|t| t.tenant && t.placed)
            .map(|t| t.table_name.clone());
        for table in &done.distributed {
            diesel::sql_query(
                "SELECT create_distributed_table($1::regclass, $2, colocate_with => $3)",
            )
            .bind::<Text, _>(table)
            .bind::<Text, _>(DISTRIBUTION_COLUMN)
            .bind::<Text, _>(colocate_with.as_deref().unwrap_or("default"))
            .execute(conn)?;
            colocate_with.get_or_insert_with(|| table.clone());
        }
        // create_*_table copies existing rows into the shards and leaves
        // the originals in the coordinator's table, unused.
        for table in &moving {
            diesel::sql_query("SELECT truncate_local_data_after_distributing_table($1::regclass)")
                .bind::<Text, _>(table)
                .execute(conn)?;
        }
        for table in &moving {
            conn.batch_execute(&format!("ALTER TABLE {} ENABLE TRIGGER USER", ident(table)))?;
        }
        for key in &foreign_keys {
            conn.batch_execute(&key.create)?;
        }
        for function in &done.functions {
            diesel::sql_query("SELECT create_distributed_function($1::regprocedure)")
                .bind::<Text, _>(function)
                .execute(conn)?;
        }
        Ok(done)
    })
}

/// A table name as an SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
