//! The plan is reproducible from its seed, covers every kind of incident, and keeps each
//! process's incidents apart.

use super::*;
use crate::backend::Backend;
use crate::chaos::{ChaosConfig, PgServer};

fn schedule() -> Schedule {
    Schedule {
        kill_interval: Duration::from_secs(4),
        term_share: 0.25,
        pause_interval: Duration::from_secs(6),
        proxy_interval: Duration::from_secs(3),
        lock_interval: Duration::from_secs(5),
        ..Schedule::quiet(Duration::from_secs(60))
    }
}

fn replicated(killed: Vec<u32>, paused: Vec<u32>) -> Schedule {
    Schedule {
        replicas: 3,
        lease: Duration::from_millis(1_500),
        killed_replicas: killed,
        paused_replicas: paused,
        connection_drop_interval: Duration::from_secs(2),
        ..schedule()
    }
}

/// The process actions of `node`, in time order.
fn actions_of(plan: &Plan, node: NodeId) -> Vec<Timed> {
    plan.actions
        .iter()
        .copied()
        .filter(|t| match t.action {
            Action::Kill(n)
            | Action::Terminate(n)
            | Action::Start(n)
            | Action::Pause(n)
            | Action::Resume(n) => n == node,
            _ => false,
        })
        .collect()
}

#[test]
fn the_same_seed_draws_the_same_plan_and_another_seed_another() {
    assert_eq!(
        Plan::generate(42, &schedule()),
        Plan::generate(42, &schedule())
    );
    assert_ne!(
        Plan::generate(42, &schedule()).actions,
        Plan::generate(43, &schedule()).actions
    );
}

#[test]
fn every_process_is_killed_and_paused_and_every_proxy_misbehaves() {
    let plan = Plan::generate(7, &schedule());
    let has = |wanted: &dyn Fn(&Action) -> bool| plan.actions.iter().any(|t| wanted(&t.action));
    for binary in Binary::ALL {
        let node = NodeId::of(binary);
        assert!(has(&|a| *a == Action::Kill(node)), "{binary:?} killed");
        assert!(
            has(&|a| *a == Action::Terminate(node)),
            "{binary:?} stopped"
        );
        assert!(has(&|a| *a == Action::Pause(node)), "{binary:?} paused");
        assert!(
            has(&|a| *a == Action::LockStorage(binary)),
            "{binary:?} stalled"
        );
    }
    for link in Link::ALL {
        assert!(has(&|a| *a == Action::ResetConnections(link)), "{link:?}");
        assert!(has(&|a| *a == Action::Proxy(link, ProxyMode::Blackhole)));
        assert!(has(
            &|a| matches!(a, Action::Proxy(l, ProxyMode::Latency(_)) if *l == link)
        ));
    }
}

#[test]
fn incidents_of_one_process_never_overlap_and_always_end() {
    for (seed, schedule) in [(11, schedule()), (12, replicated(vec![], vec![]))] {
        let plan = Plan::generate(seed, &schedule);
        for node in NodeId::all(schedule.replicas) {
            let mine: Vec<Action> = actions_of(&plan, node).iter().map(|t| t.action).collect();
            for pair in mine.chunks(2) {
                let legal = matches!(
                    pair,
                    [Action::Kill(_) | Action::Terminate(_), Action::Start(_)]
                        | [Action::Pause(_), Action::Resume(_)]
                );
                assert!(legal, "{node}: {pair:?}");
            }
        }
    }
}

#[test]
fn one_orchestrator_draws_the_schedule_it_drew_before_replicas_existed() {
    // Replicas and connection drops are drawn after everything else, so a campaign with
    // one orchestrator and no drops replays an older seed's schedule.
    let plan = Plan::generate(5, &schedule());
    let orchestrator = NodeId::of(Binary::Orchestrator);
    assert!(!actions_of(&plan, orchestrator).is_empty());
    assert!(
        plan.actions
            .iter()
            .all(|t| t.action != Action::DropConnections)
    );
}

#[test]
fn replicas_are_killed_and_paused_as_chosen_some_past_their_lease() {
    let schedule = replicated(vec![1], vec![2]);
    let plan = Plan::generate(21, &schedule);
    let [one, two, three] = [1, 2, 3].map(|replica| NodeId {
        binary: Binary::Orchestrator,
        replica,
    });
    let kinds = |node| -> (bool, bool) {
        let mine = actions_of(&plan, node);
        (
            mine.iter()
                .any(|t| matches!(t.action, Action::Kill(_) | Action::Terminate(_))),
            mine.iter().any(|t| matches!(t.action, Action::Pause(_))),
        )
    };
    assert_eq!(
        [kinds(one), kinds(two), kinds(three)],
        [(true, false), (false, true), (false, false)]
    );
    let pauses = actions_of(&plan, two);
    let longest = pauses
        .chunks(2)
        .map(|pair| pair[1].at - pair[0].at)
        .max()
        .unwrap_or_default();
    assert!(longest > schedule.lease, "longest pause {longest:?}");
    assert!(
        plan.actions
            .iter()
            .any(|t| t.action == Action::DropConnections),
        "connections are cut"
    );
}

#[test]
fn zero_intervals_turn_incidents_off() {
    let quiet = Schedule::quiet(Duration::from_secs(60));
    assert_eq!(Plan::generate(1, &quiet).actions, Vec::new());
    let quiet_replicas = Schedule {
        replicas: 3,
        ..Schedule::quiet(Duration::from_secs(60))
    };
    assert_eq!(Plan::generate(1, &quiet_replicas).actions, Vec::new());
}

#[test]
fn derived_seeds_depend_on_every_part() {
    let seeds = [
        derive(1, &[0, 0]),
        derive(1, &[0, 1]),
        derive(1, &[1, 0]),
        derive(2, &[0, 0]),
    ];
    for (i, a) in seeds.iter().enumerate() {
        for b in &seeds[i + 1..] {
            assert_ne!(a, b);
        }
    }
    assert_eq!(derive(1, &[0, 1]), derive(1, &[0, 1]));
}

fn restarting(interval: Duration) -> Schedule {
    Schedule {
        server_restart_interval: interval,
        ..replicated(vec![], vec![])
    }
}

fn restarts(plan: &Plan) -> Vec<Duration> {
    plan.actions
        .iter()
        .filter(|t| t.action == Action::RestartDatabaseServer)
        .map(|t| t.at)
        .collect()
}

#[test]
fn server_restarts_are_drawn_last_so_a_seed_replays_every_other_incident() {
    let without = Plan::generate(9, &restarting(Duration::ZERO));
    let with = Plan::generate(9, &restarting(Duration::from_secs(10)));
    let at = restarts(&with);
    assert!(at.len() >= 3, "restarts at {at:?}");
    assert!(
        at.windows(2).all(|w| w[1] - w[0] >= MIN_RESTART_GAP),
        "restarts at {at:?}"
    );
    let others: Vec<Timed> = with
        .actions
        .iter()
        .copied()
        .filter(|t| t.action != Action::RestartDatabaseServer)
        .collect();
    assert_eq!(
        (
            others,
            with.fault_seed,
            with.orchestrator_seed,
            with.load_seed
        ),
        (
            without.actions,
            without.fault_seed,
            without.orchestrator_seed,
            without.load_seed
        )
    );
}

#[test]
fn no_server_is_restarted_when_the_interval_is_zero_on_sqlite_or_without_a_way_to() {
    assert_eq!(
        restarts(&Plan::generate(9, &restarting(Duration::ZERO))),
        Vec::<Duration>::new()
    );
    let server = PgServer {
        data: "/tmp/pg/data".into(),
        bin: None,
        log: None,
    };
    let every_5s = Duration::from_secs(5);
    let on = |backend: Backend, postgres_server: Option<PgServer>| {
        ChaosConfig {
            backend,
            server_restart_interval: every_5s,
            postgres_server,
            ..ChaosConfig::new(9)
        }
        .schedule()
        .server_restart_interval
    };
    let postgres = Backend::Postgres {
        server_url: "postgres://u@h/db".into(),
    };
    assert_eq!(
        [
            on(Backend::Sqlite, Some(server.clone())),
            on(postgres.clone(), None),
            on(postgres, Some(server)),
        ],
        [Duration::ZERO, Duration::ZERO, every_5s]
    );
}

#[test]
fn inventory_incidents_are_drawn_last_so_a_place_order_seed_replays() {
    let without = Plan::generate(21, &schedule());
    let with = Plan::generate(
        21,
        &Schedule {
            inventory: true,
            ..schedule()
        },
    );
    let inventory = NodeId::INVENTORY;
    let theirs = |a: &Action| match *a {
        Action::Kill(n)
        | Action::Terminate(n)
        | Action::Start(n)
        | Action::Pause(n)
        | Action::Resume(n) => n == inventory,
        Action::Proxy(l, _) | Action::ResetConnections(l) => l == Link::Inventory,
        Action::LockStorage(b) | Action::UnlockStorage(b) => b == Binary::InventorySvc,
        _ => false,
    };
    let others: Vec<Timed> = with
        .actions
        .iter()
        .copied()
        .filter(|t| !theirs(&t.action))
        .collect();
    assert_eq!(others, without.actions);
    let has = |wanted: Action| with.actions.iter().any(|t| t.action == wanted);
    assert!(has(Action::Kill(inventory)) && has(Action::Pause(inventory)));
    assert!(has(Action::LockStorage(Binary::InventorySvc)));
    assert!(has(Action::Proxy(Link::Inventory, ProxyMode::Blackhole)));
}

#[test]
fn broker_incidents_are_drawn_last_never_overlap_and_each_ends() {
    let without = Plan::generate(22, &schedule());
    let with = Plan::generate(
        22,
        &Schedule {
            broker_interval: Duration::from_secs(5),
            ..schedule()
        },
    );
    let broker = |a: &Action| {
        matches!(
            a,
            Action::KillBroker | Action::StartBroker | Action::PauseBroker | Action::ResumeBroker
        )
    };
    let (theirs, others): (Vec<Timed>, Vec<Timed>) = with
        .actions
        .iter()
        .copied()
        .partition(|t| broker(&t.action));
    assert_eq!(others, without.actions);
    assert!(theirs.iter().any(|t| t.action == Action::KillBroker));
    assert!(theirs.iter().any(|t| t.action == Action::PauseBroker));
    for pair in theirs.chunks(2) {
        let expected = match pair[0].action {
            Action::KillBroker => Action::StartBroker,
            Action::PauseBroker => Action::ResumeBroker,
            other => panic!("{other:?} opens no broker incident"),
        };
        assert_eq!(pair.get(1).map(|t| t.action), Some(expected), "{theirs:?}");
    }
}
