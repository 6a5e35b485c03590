// Re-embed the migrations whenever the directory changes.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
