//! `saga`: start the whole stack locally, place orders, read saga logs and register saga
//! definitions.

mod client;
mod connection;
mod dead_letters;
mod definitions;
mod direct;
mod operator;
mod output;
mod render;
mod stack;
mod table;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::Output;

#[derive(Debug, Parser)]
#[command(name = "saga", version, about = "The saga orchestrator's command line")]
struct Cli {
    /// How to answer: text for people, or proto3 JSON for scripts (get, show, list,
    /// watch, replicas, and the operators' actions). Exit codes: 0 done, 1 refused, 2
    /// usage, 3 unreachable.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run orchestrator, orders-svc and invoices-svc in this process on SQLite files.
    Up(stack::UpArgs),
    /// Start the stack on a fresh folder, place one good and one over-limit order,
    /// print both sagas with their logs, and stop.
    Demo(stack::DemoArgs),
    /// Place an order through a running orchestrator.
    Place(client::PlaceArgs),
    /// Place an order at orders-svc directly; the orchestrator's invoice trigger
    /// (`saga up --invoice-trigger events|sync`) invoices it.
    Order(direct::OrderArgs),
    /// Start a saga of any registered definition, with its input as JSON.
    Start(client::StartArgs),
    /// Show one saga with its steps and its log.
    Get(client::GetArgs),
    /// Show one saga's calls as a timeline: when, how long, step, attempt, outcome.
    Show(client::GetArgs),
    /// Follow one saga's log as it grows, until the saga ends.
    Watch(watch::WatchArgs),
    /// List sagas, newest first: status, definition, age, current step.
    List(client::ListArgs),
    /// Send a saga's waiting (or parked) call now; send a FAILED saga's refused call
    /// again, its retries counted afresh.
    Retry(operator::ActionArgs),
    /// Stop a RUNNING saga going forward: it compensates what may have taken effect.
    Abort(operator::ActionArgs),
    /// Declare a FAILED saga repaired by hand: it ends RESOLVED.
    Resolve(operator::ActionArgs),
    /// Record a stuck or refused step's answer as if it had succeeded, and go on.
    Skip(operator::SkipArgs),
    /// List the live orchestrator replicas: id, incarnation, last heartbeat, sagas held.
    Replicas(client::ReplicasArgs),
    /// List the order events the orchestrator moved to the broker's dead letters.
    DeadLetters(dead_letters::DeadLettersArgs),
    /// Register, list and show saga definitions.
    Definitions(definitions::DefinitionsArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("saga: {error:#}");
            output::exit_code(&error)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let output = cli.output;
    match cli.command {
        Command::Up(args) => stack::up(args).await,
        Command::Demo(args) => stack::demo(args).await,
        Command::Place(args) => client::place(args).await,
        Command::Order(args) => direct::order(args).await,
        Command::Start(args) => client::start(args).await,
        Command::Get(args) => client::get(args, output).await,
        Command::Show(args) => client::show(args, output).await,
        Command::Watch(args) => watch::watch(args, output).await,
        Command::List(args) => client::list(args, output).await,
        Command::Retry(args) => operator::act(operator::Act::Retry, args, output).await,
        Command::Abort(args) => operator::act(operator::Act::Abort, args, output).await,
        Command::Resolve(args) => operator::act(operator::Act::Resolve, args, output).await,
        Command::Skip(args) => operator::skip(args, output).await,
        Command::Replicas(args) => client::replicas(args, output).await,
        Command::DeadLetters(args) => dead_letters::list(args).await,
        Command::Definitions(args) => definitions::run(args).await,
    }
}
