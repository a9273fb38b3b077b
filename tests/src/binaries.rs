//! Finds the service binaries that `cargo test --workspace` builds next to the test
//! executable (`target/<profile>/`, the folder above the test's `deps/`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// One of the three programs under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    Orchestrator,
    OrdersSvc,
    InvoicesSvc,
}

impl Binary {
    /// The executable's name, which is also the service's name in logs and errors.
    pub fn name(self) -> &'static str {
        match self {
            Binary::Orchestrator => "orchestrator",
            Binary::OrdersSvc => "orders-svc",
            Binary::InvoicesSvc => "invoices-svc",
        }
    }

    /// The path of the built executable; an error tells how to build it when it is missing.
    pub fn path(self) -> Result<PathBuf> {
        let exe = std::env::current_exe().context("cannot locate the test executable")?;
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .with_context(|| format!("{} has no grandparent folder", exe.display()))?;
        let path = profile_dir.join(format!("{}{}", self.name(), std::env::consts::EXE_SUFFIX));
        if !path.is_file() {
            bail!(
                "the `{}` binary is missing at {}: build the services with `cargo test --workspace` \
                 (or `cargo build --workspace --bins`) before running the end-to-end tests",
                self.name(),
                path.display()
            );
        }
        Ok(path)
    }
}
