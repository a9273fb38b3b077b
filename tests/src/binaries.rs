//! Finds the service binaries cargo builds in `target/<profile>/`: next to a binary of
//! this crate (`saga-chaos`), or in the folder above a test executable's `deps/`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Set this environment variable to a folder to run the services built there instead
/// (e.g. `target/release`).
pub const BIN_DIR_ENV: &str = "SAGA_BIN_DIR";

/// One of the programs under test: the three of the place-order saga, and the inventory
/// participant of the four-step example definition (last, so that the others keep their
/// numbers in seeds derived from them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Binary {
    Orchestrator,
    OrdersSvc,
    InvoicesSvc,
    InventorySvc,
}

impl Binary {
    /// The place-order stack, in start-up order of their dependencies (participants first).
    pub const ALL: [Binary; 3] = [Binary::OrdersSvc, Binary::InvoicesSvc, Binary::Orchestrator];

    /// The executable's name, which is also the service's name in logs and errors.
    pub fn name(self) -> &'static str {
        match self {
            Binary::Orchestrator => "orchestrator",
            Binary::OrdersSvc => "orders-svc",
            Binary::InvoicesSvc => "invoices-svc",
            Binary::InventorySvc => "inventory-svc",
        }
    }

    /// The name of the service's database in a fixture folder.
    pub fn fixture_name(self) -> &'static str {
        match self {
            Binary::Orchestrator => "orchestrator",
            Binary::OrdersSvc => "orders",
            Binary::InvoicesSvc => "invoices",
            Binary::InventorySvc => "inventory",
        }
    }

    /// The path of the built executable in [`bin_dir`]; an error tells how to build it
    /// when it is missing.
    pub fn path(self) -> Result<PathBuf> {
        self.path_in(&bin_dir()?)
    }

    /// The path of the built executable in `dir`; an error when it is missing.
    pub fn path_in(self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join(format!("{}{}", self.name(), std::env::consts::EXE_SUFFIX));
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

/// Where the service binaries are: `$SAGA_BIN_DIR` when set, else the running
/// executable's profile folder (`target/<profile>/`).
pub fn bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("cannot locate the running executable")?;
    profile_dir(&exe).with_context(|| format!("{} has no parent folder", exe.display()))
}

/// The profile folder of an executable cargo built: its own folder for a binary
/// (`target/debug/saga-chaos`), the one above for a test (`target/debug/deps/x-hash`).
pub fn profile_dir(exe: &Path) -> Option<PathBuf> {
    let dir = exe.parent()?;
    match dir.file_name() {
        Some(name) if name == "deps" => dir.parent().map(Path::to_path_buf),
        _ => Some(dir.to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_and_a_binary_find_the_same_profile_folder() {
        let found = [
            profile_dir(Path::new("/w/target/debug/deps/chaos-0123abcd")),
            profile_dir(Path::new("/w/target/debug/saga-chaos")),
            profile_dir(Path::new("/w/target/release/saga-chaos")),
        ];
        assert_eq!(
            found,
            [
                Some(PathBuf::from("/w/target/debug")),
                Some(PathBuf::from("/w/target/debug")),
                Some(PathBuf::from("/w/target/release")),
            ]
        );
    }
}
