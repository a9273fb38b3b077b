//! `saga definitions …`: apply a definition file, list and show registered definitions.

use anyhow::{Context, bail};
use saga_contracts::saga::v1 as pb;

use crate::connection::OrchestratorArgs;

/// Flags of `saga definitions`.
#[derive(Debug, clap::Args)]
pub struct DefinitionsArgs {
    #[command(flatten)]
    orchestrator: OrchestratorArgs,
    #[command(subcommand)]
    command: DefinitionsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum DefinitionsCommand {
    /// Check a definition file (JSON) against the participants' schemas and register
    /// it; prints every problem with its location and exits 1 when there is any.
    Apply {
        file: std::path::PathBuf,
        /// Check only; register nothing.
        #[arg(long)]
        validate_only: bool,
    },
    /// The latest version of every definition.
    List,
    /// One definition, as a file would hold it.
    Show {
        name: String,
        /// Default: the latest.
        #[arg(long, default_value_t = 0)]
        version: u32,
    },
}

pub async fn run(args: DefinitionsArgs) -> anyhow::Result<()> {
    match args.command {
        DefinitionsCommand::Apply {
            file,
            validate_only,
        } => apply(&args.orchestrator, &file, validate_only).await,
        DefinitionsCommand::List => list(&args.orchestrator).await,
        DefinitionsCommand::Show { name, version } => {
            show(&args.orchestrator, &name, version).await
        }
    }
}

async fn apply(
    orchestrator: &OrchestratorArgs,
    path: &std::path::Path,
    validate_only: bool,
) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let definition = saga_definitions::file::from_file_text(&path.to_string_lossy(), &text)
        .with_context(|| format!("{}", path.display()))?;
    let mut client = orchestrator.connect().await?;
    let checked = client
        .register_definition(pb::RegisterDefinitionRequest {
            definition: Some(definition.clone()),
            validate_only: true,
        })
        .await?
        .into_inner();
    for problem in &checked.problems {
        println!("{}: {}", problem.location, problem.message);
    }
    if !checked.problems.is_empty() {
        bail!("{}: {} problem(s)", path.display(), checked.problems.len());
    }
    if validate_only {
        println!("{}: no problems (digest {})", checked.name, checked.digest);
        return Ok(());
    }
    let registered = client
        .register_definition(pb::RegisterDefinitionRequest {
            definition: Some(definition),
            validate_only: false,
        })
        .await?
        .into_inner();
    let what = match registered.created {
        true => "registered",
        false => "unchanged",
    };
    println!(
        "{what} {} version {} (digest {})",
        registered.name, registered.version, registered.digest
    );
    Ok(())
}

async fn list(orchestrator: &OrchestratorArgs) -> anyhow::Result<()> {
    let mut client = orchestrator.connect().await?;
    let listed = client
        .list_definitions(pb::ListDefinitionsRequest {})
        .await?
        .into_inner();
    println!("{:<24} {:>7}  {:>5}  DIGEST", "NAME", "VERSION", "STEPS");
    for info in listed.definitions {
        let (name, steps) = info
            .definition
            .as_ref()
            .map_or(("", 0), |d| (d.name.as_str(), d.steps.len()));
        println!(
            "{name:<24} {:>7}  {steps:>5}  {}",
            info.version, info.digest
        );
    }
    Ok(())
}

async fn show(orchestrator: &OrchestratorArgs, name: &str, version: u32) -> anyhow::Result<()> {
    let mut client = orchestrator.connect().await?;
    let info = client
        .get_definition(pb::GetDefinitionRequest {
            name: name.to_string(),
            version,
        })
        .await?
        .into_inner();
    let definition = info
        .definition
        .context("the orchestrator answered without a definition")?;
    println!("# {name} version {} (digest {})", info.version, info.digest);
    let file = saga_definitions::file::to_json(&definition);
    println!("{}", serde_json::to_string_pretty(&file)?);
    Ok(())
}
