//! What the catalog says about tenant separation: the schema, not only the
//! code, keeps accounts apart.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::harness::{TestDatabase, json_rows};

const TENANT_TABLES: [&str; 5] = [
    "customers",
    "invoices",
    "invoice_items",
    "payments",
    "api_keys",
];

/// Tables with an account_id column, each with its primary key's columns in order.
fn tables_with_account_id(db: &TestDatabase) -> BTreeMap<String, Vec<String>> {
    let rows = json_rows(
        &mut db.owner_conn(),
        "SELECT c.relname AS table_name,
                array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)
                      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                      ORDER BY k.n) AS key_columns
         FROM pg_class c
         JOIN pg_namespace ns ON ns.oid = c.relnamespace AND ns.nspname = 'public'
         LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
         WHERE c.relkind = 'r'
           AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'account_id')",
    );
    rows.into_iter()
        .map(|row| {
            let key = row["key_columns"]
                .as_array()
                .map(|cols| {
                    cols.iter()
                        .map(|c| c.as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            (row["table_name"].as_str().unwrap().to_owned(), key)
        })
        .collect()
}

struct ForeignKey {
    name: String,
    table: String,
    columns: Vec<String>,
    referenced_table: String,
    referenced_columns: Vec<String>,
}

fn foreign_keys(db: &TestDatabase) -> Vec<ForeignKey> {
    let rows = json_rows(
        &mut db.owner_conn(),
        "SELECT con.conname AS name, c.relname AS table_name, r.relname AS referenced_table,
                array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, n)
                      JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
                      ORDER BY k.n) AS columns,
                array(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(attnum, n)
                      JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
                      ORDER BY k.n) AS referenced_columns
         FROM pg_constraint con
         JOIN pg_class c ON c.oid = con.conrelid
         JOIN pg_class r ON r.oid = con.confrelid
         JOIN pg_namespace ns ON ns.oid = c.relnamespace AND ns.nspname = 'public'
         WHERE con.contype = 'f'",
    );
    let strings = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect()
    };
    rows.iter()
        .map(|row| ForeignKey {
            name: row["name"].as_str().unwrap().to_owned(),
            table: row["table_name"].as_str().unwrap().to_owned(),
            columns: strings(&row["columns"]),
            referenced_table: row["referenced_table"].as_str().unwrap().to_owned(),
            referenced_columns: strings(&row["referenced_columns"]),
        })
        .collect()
}

#[test]
fn every_tenant_table_is_keyed_by_account_and_id() {
    let db = TestDatabase::new();
    let tables = tables_with_account_id(&db);
    for table in TENANT_TABLES {
        assert_eq!(
            tables.get(table),
            Some(&vec!["account_id".to_owned(), "id".to_owned()]),
            "{table}"
        );
    }
    // Every other table holding tenant rows leads its key with account_id.
    for (table, key) in &tables {
        assert_eq!(
            key.first().map(String::as_str),
            Some("account_id"),
            "{table}'s primary key is {key:?}"
        );
    }
}

#[test]
fn every_foreign_key_includes_account_id_on_both_sides_and_has_a_leading_index() {
    let db = TestDatabase::new();
    let keys = foreign_keys(&db);
    assert!(
        keys.len() >= 6,
        "expected the schema's foreign keys, found {}",
        keys.len()
    );
    let indexes = json_rows(
        &mut db.owner_conn(),
        "SELECT c.relname AS table_name,
                array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)
                      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                      ORDER BY k.n) AS columns
         FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
         JOIN pg_namespace ns ON ns.oid = c.relnamespace AND ns.nspname = 'public'
         JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
         WHERE am.amname = 'btree'",
    );
    for key in &keys {
        let position = key.columns.iter().position(|c| c == "account_id");
        assert!(
            position.is_some(),
            "{} on {} does not include account_id",
            key.name,
            key.table
        );
        // The same account_id column is matched against the referenced account
        // (accounts.id, or the referenced table's account_id): a reference
        // cannot leave its account.
        let referenced = &key.referenced_columns[position.unwrap()];
        let expected = if key.referenced_table == "accounts" {
            "id"
        } else {
            "account_id"
        };
        assert_eq!(
            referenced, expected,
            "{} pairs account_id with {referenced}",
            key.name
        );

        let wanted: BTreeSet<&String> = key.columns.iter().collect();
        let has_leading_index = indexes.iter().any(|index| {
            index["table_name"] == key.table.as_str() && {
                let columns: Vec<&str> = index["columns"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap())
                    .collect();
                columns.len() >= wanted.len()
                    && columns[..wanted.len()]
                        .iter()
                        .all(|c| wanted.iter().any(|w| w.as_str() == *c))
            }
        });
        assert!(
            has_leading_index,
            "no index on {} leads with {:?} ({})",
            key.table, key.columns, key.name
        );
    }
}

#[test]
fn every_tables_account_id_reaches_accounts() {
    let db = TestDatabase::new();
    let keys = foreign_keys(&db);
    let tables = tables_with_account_id(&db);
    for table in tables.keys() {
        let mut current = table.clone();
        let mut path = vec![current.clone()];
        while current != "accounts" {
            let next = keys
                .iter()
                .find(|key| key.table == current && key.columns.iter().any(|c| c == "account_id"))
                .unwrap_or_else(|| {
                    panic!("{current}.account_id references nothing (from {path:?})")
                });
            current = next.referenced_table.clone();
            assert!(!path.contains(&current), "a cycle: {path:?}");
            path.push(current.clone());
        }
    }
}

#[test]
fn list_filters_are_indexed() {
    let db = TestDatabase::new();
    let indexed = json_rows(
        &mut db.owner_conn(),
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'",
    );
    let definitions: Vec<&str> = indexed
        .iter()
        .map(|row| row["indexdef"].as_str().unwrap())
        .collect();
    for expected in [
        "invoices USING btree (account_id, status, id)",
        "invoices USING btree (account_id, customer_id, id)",
        "invoices USING btree (account_id, issue_date, id)",
        "payments USING btree (account_id, invoice_id, id)",
        "customers USING gin (account_id, name gin_trgm_ops, email gin_trgm_ops)",
    ] {
        assert!(
            definitions.iter().any(|d| d.contains(expected)),
            "no index {expected}"
        );
    }
}

/// On Citus a shard's constraints are named after the table's with the
/// shard id appended (`invoices_customer_fkey_102045`), and the service
/// maps errors back by dropping a trailing `_<digits>` (`db::constraint_name`):
/// which works only while no constraint of the schema ends that way.
#[test]
fn no_constraint_name_ends_in_digits() {
    let db = TestDatabase::new();
    let names = json_rows(
        &mut db.owner_conn(),
        "SELECT conname FROM pg_constraint
         WHERE connamespace = 'public'::regnamespace AND conname ~ '_[0-9]+$'",
    );
    assert!(names.is_empty(), "{names:?}");
    let all = json_rows(
        &mut db.owner_conn(),
        "SELECT conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
    );
    assert!(
        all.len() > 50,
        "the query sees the constraints: {}",
        all.len()
    );
}
