//! A checked saga definition: what the engine interprets.

use crate::template::Node;

/// A registered definition's body, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub name: String,
    pub description: String,
    pub steps: Vec<StepDef>,
    /// The saga's output; `None`: no output.
    pub output: Option<Node>,
}

/// One step: its action and, when it can be undone, its compensation.
#[derive(Debug, Clone, PartialEq)]
pub struct StepDef {
    pub name: String,
    pub action: CallDef,
    pub compensation: Option<CallDef>,
    pub kind: Kind,
    pub retry: Retry,
}

/// A participant call: which method, and the template of its request.
#[derive(Debug, Clone, PartialEq)]
pub struct CallDef {
    pub method: MethodName,
    pub input: Node,
}

/// How a step behaves when a later step fails for good, and when it fails itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Undone (in reverse order) when a later step fails for good.
    Compensatable,
    /// The go/no-go step: nothing to undo, and once past it the saga goes forward.
    Pivot,
    /// After the pivot: retried until it succeeds, never compensated.
    Retriable,
}

/// A step's own retry limits; `None` falls back to the orchestrator's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retry {
    pub max_attempts: Option<u32>,
    pub initial_backoff_ms: Option<u32>,
    pub max_backoff_ms: Option<u32>,
    pub step_time_limit_ms: Option<u32>,
    pub call_timeout_ms: Option<u32>,
}

/// A full gRPC method name, `package.Service/Method`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MethodName {
    /// `package.Service`.
    pub service: String,
    pub method: String,
}

impl MethodName {
    /// Parses `package.Service/Method`; `None` when it is not of that form.
    pub fn parse(text: &str) -> Option<Self> {
        let (service, method) = text.split_once('/')?;
        let ident = |s: &str| {
            let mut chars = s.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let parts: Vec<&str> = service.split('.').collect();
        let well_formed = parts.len() >= 2 && parts.iter().all(|p| ident(p)) && ident(method);
        well_formed.then(|| Self {
            service: service.to_string(),
            method: method.to_string(),
        })
    }

    /// The HTTP/2 path of the call, `/package.Service/Method`.
    pub fn path(&self) -> String {
        format!("/{}/{}", self.service, self.method)
    }
}

impl std::fmt::Display for MethodName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.service, self.method)
    }
}

impl StepDef {
    /// The saga log's name for the step's compensation: its method in snake case
    /// (`orders.v1.Orders/CancelOrder` is `cancel_order`); `None` without one.
    pub fn compensation_log_name(&self) -> Option<String> {
        self.compensation
            .as_ref()
            .map(|c| snake_case(&c.method.method))
    }
}

/// `CancelOrder` → `cancel_order`.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push('_');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compensations_are_logged_under_their_method_in_snake_case() {
        assert_eq!(snake_case("CancelOrder"), "cancel_order");
        assert_eq!(snake_case("VoidInvoice"), "void_invoice");
        assert_eq!(snake_case("Release2Stock"), "release2_stock");
        assert_eq!(snake_case("undo"), "undo");
    }

    #[test]
    fn method_names_are_package_service_slash_method() {
        let m = MethodName::parse("orders.v1.Orders/CreateOrder");
        assert_eq!(
            m.as_ref().map(MethodName::path),
            Some("/orders.v1.Orders/CreateOrder".to_string())
        );
        for bad in [
            "Orders/CreateOrder",
            "orders.v1.Orders",
            "orders.v1.Orders/",
            "orders..Orders/X",
            "orders.v1.Orders/Create-Order",
            "/orders.v1.Orders/X",
        ] {
            assert_eq!(MethodName::parse(bad), None, "{bad}");
        }
    }
}
