//! The plan is reproducible from its seed, covers every kind of incident, and keeps each
//! process's incidents apart.

use super::*;

fn schedule() -> Schedule {
    Schedule {
        duration: Duration::from_secs(60),
        kill_interval: Duration::from_secs(4),
        term_share: 0.25,
        pause_interval: Duration::from_secs(6),
        proxy_interval: Duration::from_secs(3),
        lock_interval: Duration::from_secs(5),
    }
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
        assert!(has(&|a| *a == Action::Kill(binary)), "{binary:?} killed");
        assert!(
            has(&|a| *a == Action::Terminate(binary)),
            "{binary:?} stopped"
        );
        assert!(has(&|a| *a == Action::Pause(binary)), "{binary:?} paused");
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
    let plan = Plan::generate(11, &schedule());
    for binary in Binary::ALL {
        let mine: Vec<Action> = plan
            .actions
            .iter()
            .map(|t| t.action)
            .filter(|a| match a {
                Action::Kill(b)
                | Action::Terminate(b)
                | Action::Start(b)
                | Action::Pause(b)
                | Action::Resume(b) => *b == binary,
                _ => false,
            })
            .collect();
        for pair in mine.chunks(2) {
            let legal = matches!(
                pair,
                [Action::Kill(_) | Action::Terminate(_), Action::Start(_)]
                    | [Action::Pause(_), Action::Resume(_)]
            );
            assert!(legal, "{binary:?}: {pair:?}");
        }
    }
}

#[test]
fn zero_intervals_turn_incidents_off() {
    let quiet = Schedule {
        kill_interval: Duration::ZERO,
        pause_interval: Duration::ZERO,
        proxy_interval: Duration::ZERO,
        lock_interval: Duration::ZERO,
        ..schedule()
    };
    assert_eq!(Plan::generate(1, &quiet).actions, Vec::new());
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
