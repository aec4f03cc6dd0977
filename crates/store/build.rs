//! The migrations are embedded at build time (refinery): rebuild when one is
//! added or edited, or a binary would ship without it.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
