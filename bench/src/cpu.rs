//! What each process spent during a phase, from /proc: CPU time (utime + stime of
//! `/proc/PID/stat`), bytes sent to storage (`write_bytes` of `/proc/PID/io`) and peak
//! resident memory (`VmHWM` of `/proc/PID/status`), for this
//! process, the services it started (its children) and a database server's processes
//! (its postmaster and that one's children), plus how busy the whole machine was.

use std::collections::BTreeMap;
use std::fs;
use std::time::Instant;

use serde::Serialize;

/// Clock ticks per second of `/proc` CPU times (USER_HZ, 100 on every mainstream Linux).
const TICKS_PER_SECOND: f64 = 100.0;
/// The name this process is reported under.
pub const SELF_NAME: &str = "saga-bench";

/// One process at one moment.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    ticks: u64,
    write_bytes: Option<u64>,
    peak_rss_kb: Option<u64>,
}

/// This process, its children and the machine at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    at: Instant,
    processes: BTreeMap<u32, Sample>,
    /// Busy ticks of all CPUs together.
    machine_busy: Option<u64>,
}

/// What one process spent between two snapshots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spent {
    pub cpu_s: f64,
    /// Bytes the process caused to be written to storage (absent where /proc hides it).
    pub disk_write_bytes: Option<u64>,
    /// The most memory the process held resident since it started, in MiB (the largest
    /// process of that name).
    pub peak_rss_mib: Option<f64>,
}

/// What the processes spent between two snapshots.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Usage {
    /// By process name (a process started twice is added up).
    pub processes: BTreeMap<String, Spent>,
    /// CPUs kept busy on average by everything on the machine, others' work included.
    pub machine_busy_cpus: Option<f64>,
}

impl Snapshot {
    /// Reads this process, every child of it, each of `servers` and every child of those,
    /// and the machine's CPU counters.
    pub fn take(servers: &[u32]) -> Self {
        let me = std::process::id();
        let mut processes = BTreeMap::new();
        if let Some(sample) = sample(me, Some(SELF_NAME)) {
            // Its io counters take in the writes of every child it reaped (a participant
            // that crashed and was restarted), so they say nothing about this process.
            let write_bytes = None;
            processes.insert(
                me,
                Sample {
                    write_bytes,
                    ..sample
                },
            );
        }
        let mut others = children(me);
        for &server in servers {
            others.push(server);
            others.extend(children(server));
        }
        for pid in others {
            if let Some(sample) = sample(pid, None) {
                processes.insert(pid, sample);
            }
        }
        Self {
            at: Instant::now(),
            processes,
            machine_busy: fs::read_to_string("/proc/stat")
                .ok()
                .and_then(|text| busy_ticks(&text)),
        }
    }

    /// What was spent from `self` to `later` by the processes alive at `later`: a process
    /// started in between counts from nothing (a database server's backend for a
    /// connection a pool opened under the load: left out, PostgreSQL's CPU per saga
    /// read a fifth of what it was).
    pub fn until(&self, later: &Snapshot) -> Usage {
        let mut processes: BTreeMap<String, Spent> = BTreeMap::new();
        for (pid, after) in &later.processes {
            let before = self.processes.get(pid);
            let spent = processes.entry(after.name.clone()).or_default();
            let ticks_before = before.map_or(0, |b| b.ticks);
            #[allow(clippy::cast_precision_loss)]
            let cpu_s = after.ticks.saturating_sub(ticks_before) as f64 / TICKS_PER_SECOND;
            spent.cpu_s += cpu_s;
            let bytes_before = before.map_or(Some(0), |b| b.write_bytes);
            if let (Some(a), Some(b)) = (after.write_bytes, bytes_before) {
                *spent.disk_write_bytes.get_or_insert(0) += a.saturating_sub(b);
            }
            if let Some(kb) = after.peak_rss_kb {
                #[allow(clippy::cast_precision_loss)]
                let mib = kb as f64 / 1024.0;
                spent.peak_rss_mib = Some(spent.peak_rss_mib.map_or(mib, |m| m.max(mib)));
            }
        }
        let wall = later.at.duration_since(self.at).as_secs_f64();
        let machine_busy_cpus = match (self.machine_busy, later.machine_busy) {
            (Some(busy0), Some(busy1)) if wall > 0.0 => {
                #[allow(clippy::cast_precision_loss)]
                let busy = busy1.saturating_sub(busy0) as f64 / TICKS_PER_SECOND;
                Some(busy / wall)
            }
            _ => None,
        };
        Usage {
            processes,
            machine_busy_cpus,
        }
    }
}

/// The parent of process `pid`, if it is alive and visible.
pub fn parent_of(pid: u32) -> Option<u32> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text).map(|stat| stat.ppid)
}

/// The pids whose parent is `parent`.
fn children(parent: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|text| parse_stat(&text))
                .is_some_and(|stat| stat.ppid == parent)
        })
        .collect()
}

fn sample(pid: u32, name: Option<&str>) -> Option<Sample> {
    let stat = parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
    let write_bytes = fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|text| io_write_bytes(&text));
    let peak_rss_kb = fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|text| status_kb(&text, "VmHWM:"));
    Some(Sample {
        name: name.map_or(stat.comm, str::to_string),
        ticks: stat.utime + stat.stime,
        write_bytes,
        peak_rss_kb,
    })
}

/// A `Field:   123 kB` line of `/proc/PID/status`, in kB.
fn status_kb(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The fields of `/proc/PID/stat` used here.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stat {
    comm: String,
    ppid: u32,
    utime: u64,
    stime: u64,
}

/// Parses `pid (comm) state ppid … utime stime …`; `comm` may hold spaces and parentheses,
/// so the fields after it are found from its last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // After `)`: state is field 3 of the man page, so field k sits at rest[k - 3].
    Some(Stat {
        comm,
        ppid: rest.get(1)?.parse().ok()?,
        utime: rest.get(11)?.parse().ok()?,
        stime: rest.get(12)?.parse().ok()?,
    })
}

fn io_write_bytes(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("write_bytes:"))
        .and_then(|value| value.trim().parse().ok())
}

/// Busy ticks from the `cpu` line of `/proc/stat`: all but idle and iowait.
fn busy_ticks(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let all: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    Some(all.saturating_sub(idle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_found_after_a_command_name_with_spaces() {
        let text = "4242 (tokio (rt) x) S 17 4242 10 0 -1 4194304 98 0 0 0 250 31 0 0 20 0 1 0";
        assert_eq!(
            parse_stat(text),
            Some(Stat {
                comm: "tokio (rt) x".into(),
                ppid: 17,
                utime: 250,
                stime: 31
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn a_processes_parent_is_read_from_its_stat() {
        assert_eq!(
            parent_of(std::process::id()),
            Some(std::os::unix::process::parent_id())
        );
    }

    #[test]
    fn machine_busy_time_leaves_out_idle_and_iowait() {
        let text = "cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";
        assert_eq!(busy_ticks(text), Some(161));
    }

    #[test]
    fn write_bytes_are_read_from_the_io_file() {
        let text = "rchar: 6976\nwchar: 0\nwrite_bytes: 4096\ncancelled_write_bytes: 0\n";
        assert_eq!(io_write_bytes(text), Some(4096));
    }

    #[test]
    fn peak_resident_memory_is_read_from_the_status_file() {
        let text = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    5120 kB\nVmRSS:\t 4000 kB\n";
        assert_eq!(status_kb(text, "VmHWM:"), Some(5120));
        assert_eq!(status_kb("Name:\tx\n", "VmHWM:"), None);
    }

    fn snapshot(processes: &[(u32, &str, u64)]) -> Snapshot {
        let processes = processes.iter().map(|&(pid, name, ticks)| {
            let sample = Sample {
                name: name.into(),
                ticks,
                write_bytes: Some(ticks),
                peak_rss_kb: None,
            };
            (pid, sample)
        });
        Snapshot {
            at: Instant::now(),
            processes: processes.collect(),
            machine_busy: None,
        }
    }

    #[test]
    fn a_process_started_during_the_phase_counts_from_nothing() {
        let before = snapshot(&[(1, "postgres", 100)]);
        let after = snapshot(&[(1, "postgres", 150), (2, "postgres", 30), (3, "x", 5)]);
        let usage = before.until(&after);
        let postgres = usage.processes["postgres"];
        assert!((postgres.cpu_s - 0.8).abs() < 1e-9, "{postgres:?}");
        assert_eq!(postgres.disk_write_bytes, Some(80));
        assert!((usage.processes["x"].cpu_s - 0.05).abs() < 1e-9);
    }

    #[test]
    fn this_process_is_always_in_a_snapshot() {
        let before = Snapshot::take(&[]);
        let spent: u64 = (0..2_000_000u64).map(std::hint::black_box).sum();
        assert!(spent > 0);
        let usage = before.until(&Snapshot::take(&[]));
        assert!(usage.processes.contains_key(SELF_NAME), "{usage:?}");
    }
}
