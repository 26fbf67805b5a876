//! Lists the migrations under migrations/ for `db::migrations`, which
//! compiles each one's up.sql and down.sql into the binary and runs them
//! statement by statement (see there for why).

use std::fmt::Write;
use std::path::Path;

fn main() {
    // Without this, an edit to a .sql file alone would not rebuild.
    println!("cargo:rerun-if-changed=migrations");
    let root =
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("migrations");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .expect("a migrations directory")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let path = entry.path();
            path.join("up.sql")
                .is_file()
                .then(|| entry.file_name().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    let mut list = String::from("&[\n");
    for name in names {
        let dir = root.join(&name);
        for file in ["up.sql", "down.sql"] {
            assert!(dir.join(file).is_file(), "migration {name} has no {file}");
            println!("cargo:rerun-if-changed={}", dir.join(file).display());
        }
        writeln!(
            list,
            "    ({name:?}, include_str!({up:?}), include_str!({down:?})),",
            up = dir.join("up.sql"),
            down = dir.join("down.sql"),
        )
        .unwrap();
    }
    list.push_str("]\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets it")).join("migrations.rs");
    std::fs::write(out, list).expect("write the migration list");
}
