//! Definition files: the `SagaDefinition` message as JSON or YAML, with each template
//! written either as a tree (an object, usually) or as a string holding JSON, and the
//! step kind by name (`compensatable`, `pivot`, `retriable`).

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
    file.into_proto()
}

/// Reads a definition file's YAML text (the same fields as JSON).
pub fn from_yaml(text: &str) -> Result<pb::SagaDefinition, FileError> {
    let file: FileDefinition =
        serde_saphyr::from_str(text).map_err(|e| FileError(e.to_string()))?;
    file.into_proto()
}

/// Reads a definition file by its name's extension: `.yaml` and `.yml` are YAML,
/// anything else JSON.
pub fn from_file_text(name: &str, text: &str) -> Result<pb::SagaDefinition, FileError> {
    match name.rsplit('.').next() {
        Some("yaml" | "yml") => from_yaml(text),
        _ => from_json(text),
    }
}

/// Whether a file name is one a definition is read from (`.json`, `.yaml`, `.yml`).
pub fn is_definition_file(name: &str) -> bool {
    matches!(name.rsplit('.').next(), Some("json" | "yaml" | "yml"))
}

impl FileDefinition {
    fn into_proto(self) -> Result<pb::SagaDefinition, FileError> {
        let file = self;
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

/// The definition as a file would hold it: templates as JSON (a template that is not
/// JSON stays a string), kinds by name, retry limits only when set.
pub fn to_json(definition: &pb::SagaDefinition) -> Value {
    let steps: Vec<Value> = definition.steps.iter().map(step_to_json).collect();
    let mut file = serde_json::json!({
        "name": definition.name,
        "description": definition.description,
        "steps": steps,
    });
    if let Some(output) = template_to_json(&definition.output_template) {
        file["output"] = output;
    }
    file
}

fn step_to_json(step: &pb::Step) -> Value {
    let mut out = serde_json::json!({ "name": step.name, "action": step.action });
    if let Some(input) = template_to_json(&step.action_input) {
        out["action_input"] = input;
    }
    if !step.compensation.is_empty() {
        out["compensation"] = Value::String(step.compensation.clone());
    }
    if let Some(input) = template_to_json(&step.compensation_input) {
        out["compensation_input"] = input;
    }
    let kind = match step.kind() {
        pb::StepKind::Unspecified => None,
        pb::StepKind::Compensatable => Some("compensatable"),
        pb::StepKind::Pivot => Some("pivot"),
        pb::StepKind::Retriable => Some("retriable"),
    };
    if let Some(kind) = kind {
        out["kind"] = Value::String(kind.into());
    }
    if let Some(r) = step.retry.filter(|r| *r != pb::RetryPolicy::default()) {
        let limits = [
            ("max_attempts", r.max_attempts),
            ("initial_backoff_ms", r.initial_backoff_ms),
            ("max_backoff_ms", r.max_backoff_ms),
            ("step_time_limit_ms", r.step_time_limit_ms),
            ("call_timeout_ms", r.call_timeout_ms),
        ];
        let set: serde_json::Map<String, Value> = limits
            .into_iter()
            .filter(|(_, v)| *v > 0)
            .map(|(k, v)| (k.to_string(), Value::from(v)))
            .collect();
        out["retry"] = Value::Object(set);
    }
    out
}

fn template_to_json(text: &str) -> Option<Value> {
    if text.trim().is_empty() {
        return None;
    }
    Some(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_reads_back_as_it_was_written() {
        let text = include_str!("../../definitions/place-order.json");
        let definition = from_json(text).expect("reads");
        assert_eq!(definition.steps.len(), 3);
        assert_eq!(definition.steps[2].kind(), pb::StepKind::Retriable);
        let again = from_json(&to_json(&definition).to_string()).expect("reads again");
        assert_eq!(again, definition);
    }

    #[test]
    fn a_yaml_file_is_the_same_definition_as_its_json() {
        let json = from_json(include_str!(
            "../../definitions/examples/order-with-stock.json"
        ))
        .expect("json");
        let yaml = from_file_text(
            "order-with-stock.yaml",
            include_str!("../../definitions/examples/order-with-stock.yaml"),
        )
        .expect("yaml");
        assert_eq!(crate::digest(&yaml), crate::digest(&json));
        assert!(from_yaml("name: [").is_err());
    }

    #[test]
    fn an_unknown_field_or_kind_is_refused() {
        let unknown = r#"{"name": "x", "steps": [], "stepz": []}"#;
        assert!(from_json(unknown).is_err());
        let kind =
            r#"{"name": "x", "steps": [{"name": "a", "action": "a.B/C", "kind": "undoable"}]}"#;
        let error = from_json(kind).expect_err("a bad kind");
        assert!(error.to_string().contains("steps[0].kind"), "{error}");
    }
}
