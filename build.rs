// embed_migrations! reads migrations/ at compile time but does not tell cargo
// to watch it: without this, an edit to a .sql file alone would not rebuild.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
