//! CPU time of a process from `/proc/PID/stat` (user + system), to tell a process that
//! backs off while a peer is down from one that spins.

use anyhow::{Context, Result};
use nix::unistd::Pid;

/// Clock ticks per second of `/proc` figures (`USER_HZ`, 100 on every Linux ABI).
const TICKS_PER_SECOND: f64 = 100.0;

/// The CPU seconds (user + system) `pid` has used so far.
pub fn cpu_seconds(pid: Pid) -> Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let ticks = parse_ticks(&text).with_context(|| format!("cannot parse {path}: {text:?}"))?;
    Ok(ticks as f64 / TICKS_PER_SECOND)
}

/// `utime + stime` from a `/proc/PID/stat` line. The command name (field 2) is in
/// parentheses and may hold spaces, so fields are counted from the last `)`.
pub fn parse_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_user_and_system_ticks_past_a_name_with_spaces() {
        let stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1234 0 0 0 \
                    250 70 0 0 20 0 9 0 12345 1000000 500 18446744073709551615";
        assert_eq!(parse_ticks(stat), Some(320));
        assert_eq!(parse_ticks("garbage"), None);
    }

    #[test]
    fn measures_this_process() -> Result<()> {
        let seconds = cpu_seconds(nix::unistd::getpid())?;
        assert!(seconds >= 0.0);
        Ok(())
    }
}
