//! Compiles proto/ with the pure-Rust protox compiler (no system protoc) into tonic code.

use std::path::PathBuf;

const PROTOS: [&str; 3] = [
    "saga/v1/saga.proto",
    "orders/v1/orders.proto",
    "invoices/v1/invoices.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../proto");
    println!("cargo:rerun-if-changed={}", root.display());
    let files = protox::compile(PROTOS, [&root])?;
    tonic_prost_build::configure().compile_fds(files)?;
    Ok(())
}
