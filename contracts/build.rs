//! Compiles proto/ with the pure-Rust protox compiler (no system protoc) into tonic code,
//! and keeps the compiled descriptors for server reflection and dynamic messages.

use std::path::PathBuf;

use prost::Message;

const PROTOS: [&str; 3] = [
    "saga/v1/saga.proto",
    "orders/v1/orders.proto",
    "invoices/v1/invoices.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../proto");
    println!("cargo:rerun-if-changed={}", root.display());
    let files = protox::compile(PROTOS, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("contracts.bin"), files.encode_to_vec())?;
    tonic_prost_build::configure().compile_fds(files)?;
    Ok(())
}
