//! Definition files: the `SagaDefinition` message as JSON, with each template written
//! either as JSON (an object, usually) or as a string holding JSON, and the step kind by
//! name (`compensatable`, `pivot`, `retriable`).

use serde::Deserialize;
use serde_json::Value;

use saga_contracts::saga::v1 as pb;

/// Why a file is not a definition.
#[derive(Debug, thiserror::Error)]
#[error("not a saga definition: {0}")]
pub struct FileError(String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDefinition {
    name: String,
    #[serde(default)]
    description: String,
    steps: Vec<FileStep>,
    #[serde(default, alias = "output_template")]
    output: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileStep {
    name: String,
    action: String,
    #[serde(default)]
    action_input: Option<Value>,
    #[serde(default)]
    compensation: String,
    #[serde(default)]
    compensation_input: Option<Value>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    retry: Option<FileRetry>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileRetry {
    #[serde(default)]
    max_attempts: u32,
    #[serde(default)]
    initial_backoff_ms: u32,
    #[serde(default)]
    max_backoff_ms: u32,
    #[serde(default)]
    step_time_limit_ms: u32,
    #[serde(default)]
    call_timeout_ms: u32,
}

/// Reads a definition file's JSON text.
pub fn from_json(text: &str) -> Result<pb::SagaDefinition, FileError> {
    let file: FileDefinition = serde_json::from_str(text).map_err(|e| FileError(e.to_string()))?;
    let steps = file
        .steps
        .into_iter()
        .enumerate()
        .map(|(i, step)| step.into_proto(i))
        .collect::<Result<_, _>>()?;
    Ok(pb::SagaDefinition {
        name: file.name,
        description: file.description,
        steps,
        output_template: template(file.output),
    })
}

impl FileStep {
    fn into_proto(self, i: usize) -> Result<pb::Step, FileError> {
        let kind = match self.kind.as_deref() {
            None | Some("") => pb::StepKind::Unspecified,
            Some("compensatable") => pb::StepKind::Compensatable,
            Some("pivot") => pb::StepKind::Pivot,
            Some("retriable") => pb::StepKind::Retriable,
            Some(other) => {
                return Err(FileError(format!(
                    "steps[{i}].kind: {other:?} is not compensatable, pivot or retriable"
                )));
            }
        };
        let retry = self.retry.map(|r| pb::RetryPolicy {
            max_attempts: r.max_attempts,
            initial_backoff_ms: r.initial_backoff_ms,
            max_backoff_ms: r.max_backoff_ms,
            step_time_limit_ms: r.step_time_limit_ms,
            call_timeout_ms: r.call_timeout_ms,
        });
        Ok(pb::Step {
            name: self.name,
            action: self.action,
            action_input: template(self.action_input),
            compensation: self.compensation,
            compensation_input: template(self.compensation_input),
            kind: kind.into(),
            retry,
        })
    }
}

/// A template as the message holds it: a string stays the JSON text it holds, anything
/// else is written as JSON.
fn template(value: Option<Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text,
        Some(other) => other.to_string(),
    }
}
