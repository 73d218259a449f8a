//! A small IAM policy evaluator over the CloudFormation template
//! (deploy/aws/rat-platform.yaml), for asserting what each role can do by
//! evaluating requests, not by matching strings.
//!
//! [`Stack`] resolves the template's intrinsic functions (`Ref`,
//! `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`, `Fn::If` and its conditions) for
//! one set of parameters, naming resources as CloudFormation would in an
//! account (role `rat-<LogicalId>`, cluster by its name...). [`Policy`]
//! evaluates a request the way IAM does for one identity's policies:
//! an explicit `Deny` wins, else some `Allow` whose `Action`/`NotAction`,
//! `Resource`/`NotResource` and every condition match, else denied.
//! Wildcards (`*`, `?`) match as IAM's do; actions ignore case. A
//! condition operator it does not know fails the test instead of guessing.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value as Json, json};
use serde_yaml_ng::Value;

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "eu-west-1";
pub const STACK: &str = "rat";

/// The template with its parameters, resolved on demand.
pub struct Stack {
    template: Value,
    parameters: BTreeMap<String, String>,
}

impl Stack {
    /// Reads the template; `parameters` override the defaults.
    pub fn load(path: &Path, parameters: &[(&str, &str)]) -> Self {
        let text = std::fs::read_to_string(path).unwrap();
        let template: Value = serde_yaml_ng::from_str(&text).unwrap();
        let mut values = BTreeMap::new();
        for (name, spec) in template["Parameters"].as_mapping().unwrap() {
            if let Some(default) = spec.get("Default") {
                values.insert(name.as_str().unwrap().to_owned(), scalar(default));
            }
        }
        for (name, value) in parameters {
            values.insert((*name).to_owned(), (*value).to_owned());
        }
        Self {
            template,
            parameters: values,
        }
    }

    /// A resource's definition.
    pub fn resource(&self, logical: &str) -> &Value {
        let resource = &self.template["Resources"][logical];
        assert!(!resource.is_null(), "no resource {logical} in the template");
        resource
    }

    /// Logical ids of the resources of `kind` (`AWS::IAM::Role`).
    pub fn of_type(&self, kind: &str) -> Vec<String> {
        self.template["Resources"]
            .as_mapping()
            .unwrap()
            .iter()
            .filter(|(_, r)| r["Type"].as_str() == Some(kind))
            .map(|(id, _)| id.as_str().unwrap().to_owned())
            .collect()
    }

    /// `value` with every intrinsic function resolved, as JSON.
    pub fn resolve(&self, value: &Value) -> Json {
        match value {
            Value::Tagged(tagged) => {
                let name = tagged.tag.to_string();
                let name = name.trim_start_matches('!');
                let function = if name == "Ref" {
                    "Ref".to_owned()
                } else {
                    format!("Fn::{name}")
                };
                self.function(&function, &tagged.value)
            }
            Value::Mapping(map) if map.len() == 1 => {
                let (key, inner) = map.iter().next().unwrap();
                match key.as_str() {
                    Some(f) if f == "Ref" || f.starts_with("Fn::") => self.function(f, inner),
                    _ => self.mapping(map),
                }
            }
            Value::Mapping(map) => self.mapping(map),
            Value::Sequence(items) => Json::Array(
                items
                    .iter()
                    .map(|v| self.resolve(v))
                    .filter(|v| v != &no_value())
                    .collect(),
            ),
            other => serde_json::to_value(other).unwrap(),
        }
    }

    fn mapping(&self, map: &serde_yaml_ng::Mapping) -> Json {
        let mut out = serde_json::Map::new();
        for (k, v) in map {
            let v = self.resolve(v);
            if v != no_value() {
                out.insert(k.as_str().unwrap().to_owned(), v);
            }
        }
        Json::Object(out)
    }

    fn function(&self, name: &str, arg: &Value) -> Json {
        match name {
            "Ref" => {
                let name = arg.as_str().unwrap();
                let kind = self.template["Parameters"][name]["Type"]
                    .as_str()
                    .unwrap_or("");
                if kind.starts_with("List<") || kind == "CommaDelimitedList" {
                    json!(self.parameters[name].split(',').collect::<Vec<_>>())
                } else {
                    json!(self.reference(name))
                }
            }
            "Fn::GetAtt" => {
                let (logical, attribute) = match arg {
                    Value::Sequence(parts) => (
                        parts[0].as_str().unwrap().to_owned(),
                        parts[1].as_str().unwrap().to_owned(),
                    ),
                    other => {
                        let text = other.as_str().unwrap();
                        let (l, a) = text.split_once('.').unwrap();
                        (l.to_owned(), a.to_owned())
                    }
                };
                json!(self.attribute(&logical, &attribute))
            }
            "Fn::Sub" => {
                let (text, vars) = match arg {
                    Value::Sequence(parts) => {
                        let vars: BTreeMap<String, Json> = parts[1]
                            .as_mapping()
                            .unwrap()
                            .iter()
                            .map(|(k, v)| (k.as_str().unwrap().to_owned(), self.resolve(v)))
                            .collect();
                        (parts[0].as_str().unwrap(), vars)
                    }
                    other => (other.as_str().unwrap(), BTreeMap::new()),
                };
                json!(self.substitute(text, &vars))
            }
            "Fn::Join" => {
                let parts = arg.as_sequence().unwrap();
                let separator = parts[0].as_str().unwrap();
                let items = self.resolve(&parts[1]);
                let items: Vec<String> = items
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect();
                json!(items.join(separator))
            }
            "Fn::If" => {
                let parts = arg.as_sequence().unwrap();
                if self.condition(parts[0].as_str().unwrap()) {
                    self.resolve(&parts[1])
                } else {
                    self.resolve(&parts[2])
                }
            }
            other => panic!("the evaluator does not know {other}"),
        }
    }

    fn substitute(&self, text: &str, vars: &BTreeMap<String, Json>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').unwrap() + start;
            let name = &rest[start + 2..end];
            let value = match vars.get(name) {
                Some(v) => v.as_str().unwrap().to_owned(),
                None => match name.split_once('.') {
                    Some((logical, attribute)) if !name.starts_with("AWS::") => {
                        self.attribute(logical, attribute)
                    }
                    _ => self.reference(name),
                },
            };
            out.push_str(&value);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// The descriptions of the template's `Rules` assertions these
    /// parameters break: what CloudFormation refuses before making
    /// anything.
    pub fn broken_rules(&self) -> Vec<String> {
        let Some(rules) = self.template["Rules"].as_mapping() else {
            return Vec::new();
        };
        let mut broken = Vec::new();
        for (_, rule) in rules {
            if !rule["RuleCondition"].is_null() && !self.truth(&rule["RuleCondition"]) {
                continue;
            }
            for assertion in rule["Assertions"].as_sequence().unwrap() {
                if !self.truth(&assertion["Assert"]) {
                    broken.push(assertion["AssertDescription"].as_str().unwrap().to_owned());
                }
            }
        }
        broken
    }

    /// Whether condition `name` holds for these parameters.
    pub fn condition(&self, name: &str) -> bool {
        let spec = &self.template["Conditions"][name];
        assert!(!spec.is_null(), "no condition {name}");
        self.truth(spec)
    }

    fn truth(&self, value: &Value) -> bool {
        let (function, arg) = match value {
            Value::Tagged(t) => (
                format!("Fn::{}", t.tag.to_string().trim_start_matches('!')),
                &t.value,
            ),
            Value::Mapping(m) => {
                let (k, v) = m.iter().next().unwrap();
                (k.as_str().unwrap().to_owned(), v)
            }
            other => panic!("not a condition: {other:?}"),
        };
        let parts = || arg.as_sequence().unwrap();
        match function.as_str() {
            "Fn::Equals" => self.resolve(&parts()[0]) == self.resolve(&parts()[1]),
            "Fn::Not" => !self.truth(&parts()[0]),
            "Fn::And" => parts().iter().all(|p| self.truth(p)),
            "Fn::Or" => parts().iter().any(|p| self.truth(p)),
            "Fn::Condition" => self.condition(arg.as_str().unwrap()),
            other => panic!("the evaluator does not know the condition {other}"),
        }
    }

    /// What `Ref` gives for a parameter, a pseudo parameter or a resource.
    pub fn reference(&self, name: &str) -> String {
        match name {
            "AWS::AccountId" => return ACCOUNT.into(),
            "AWS::Region" => return REGION.into(),
            "AWS::Partition" => return "aws".into(),
            "AWS::StackName" => return STACK.into(),
            "AWS::StackId" => {
                return format!("arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/1");
            }
            "AWS::NoValue" => return "\u{0}no-value".into(),
            _ => {}
        }
        if let Some(value) = self.parameters.get(name) {
            return value.clone();
        }
        let resource = self.resource(name);
        let property = |key: &str| {
            let v = &resource["Properties"][key];
            (!v.is_null()).then(|| self.resolve(v).as_str().unwrap().to_owned())
        };
        match resource["Type"].as_str().unwrap() {
            "AWS::IAM::Role" => format!("rat-{name}"),
            "AWS::ECS::Cluster" => property("ClusterName").unwrap(),
            "AWS::ECS::TaskDefinition" => format!(
                "arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{}:1",
                property("Family").unwrap()
            ),
            "AWS::ECS::Service" => format!(
                "arn:aws:ecs:{REGION}:{ACCOUNT}:service/{}/{}",
                property("Cluster").unwrap(),
                property("ServiceName").unwrap()
            ),
            "AWS::Logs::LogGroup" => property("LogGroupName").unwrap(),
            "AWS::S3::Bucket" => {
                property("BucketName").unwrap_or_else(|| format!("rat-{}", name.to_lowercase()))
            }
            "AWS::SSM::Parameter" => property("Name").unwrap(),
            "AWS::KMS::Key" => format!("key-{name}"),
            "AWS::IAM::OIDCProvider" => format!(
                "arn:aws:iam::{ACCOUNT}:oidc-provider/{}",
                property("Url").unwrap().trim_start_matches("https://")
            ),
            _ => format!("{name}-id"),
        }
    }

    /// What `Fn::GetAtt` gives.
    pub fn attribute(&self, logical: &str, attribute: &str) -> String {
        let kind = self.resource(logical)["Type"].as_str().unwrap().to_owned();
        let id = self.reference(logical);
        match (kind.as_str(), attribute) {
            ("AWS::IAM::Role", "Arn") => format!("arn:aws:iam::{ACCOUNT}:role/{id}"),
            ("AWS::ECS::Cluster", "Arn") => format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{id}"),
            ("AWS::Logs::LogGroup", "Arn") => {
                format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{id}:*")
            }
            ("AWS::S3::Bucket", "Arn") => format!("arn:aws:s3:::{id}"),
            ("AWS::KMS::Key", "Arn") => format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{id}"),
            (_, attribute) => format!("{id}.{attribute}"),
        }
    }

    /// Every policy document attached to role `logical`: its inline
    /// `Policies` and the `AWS::IAM::Policy` resources naming it. A managed
    /// policy fails the test: the evaluator cannot see inside it.
    pub fn identity_policy(&self, logical: &str) -> Policy {
        let role = self.resource(logical);
        assert_eq!(role["Type"].as_str(), Some("AWS::IAM::Role"), "{logical}");
        assert!(
            role["Properties"]["ManagedPolicyArns"].is_null(),
            "{logical} has managed policies the evaluator cannot read"
        );
        let mut statements = Vec::new();
        if let Some(inline) = role["Properties"]["Policies"].as_sequence() {
            for policy in inline {
                statements.extend(documents(&self.resolve(&policy["PolicyDocument"])));
            }
        }
        for id in self.of_type("AWS::IAM::Policy") {
            let policy = &self.resource(&id)["Properties"];
            let roles = self.resolve(&policy["Roles"]);
            if roles
                .as_array()
                .unwrap()
                .contains(&json!(self.reference(logical)))
            {
                statements.extend(documents(&self.resolve(&policy["PolicyDocument"])));
            }
        }
        Policy { statements }
    }

    /// Role `logical`'s trust policy.
    pub fn trust_policy(&self, logical: &str) -> Policy {
        let role = self.resource(logical);
        Policy {
            statements: documents(&self.resolve(&role["Properties"]["AssumeRolePolicyDocument"])),
        }
    }
}

fn no_value() -> Json {
    json!("\u{0}no-value")
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other).unwrap().trim().to_owned(),
    }
}

fn documents(document: &Json) -> Vec<Json> {
    assert_eq!(document["Version"], "2012-10-17", "{document}");
    match &document["Statement"] {
        Json::Array(list) => list.clone(),
        one => vec![one.clone()],
    }
}

/// One request: an action on a resource, by a principal, with context keys.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub action: String,
    pub resource: String,
    /// `("AWS", arn)`, `("Service", name)` or `("Federated", arn)`, for
    /// trust policies.
    pub principal: Option<(String, String)>,
    pub context: BTreeMap<String, String>,
}

impl Request {
    pub fn new(action: &str, resource: &str) -> Self {
        Self {
            action: action.into(),
            resource: resource.into(),
            ..Self::default()
        }
    }

    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.context.insert(key.into(), value.into());
        self
    }

    pub fn by(mut self, kind: &str, id: &str) -> Self {
        self.principal = Some((kind.into(), id.into()));
        self
    }
}

/// The statements of one identity (or one trust policy).
#[derive(Debug, Clone)]
pub struct Policy {
    pub statements: Vec<Json>,
}

impl Policy {
    /// IAM's decision: an explicit deny wins, else an allow, else denied.
    pub fn allows(&self, request: &Request) -> bool {
        let matching = |effect: &str| {
            self.statements
                .iter()
                .filter(|s| s["Effect"] == effect)
                .any(|s| statement_matches(s, request))
        };
        !matching("Deny") && matching("Allow")
    }

    /// The `Allow` statements.
    pub fn allows_statements(&self) -> impl Iterator<Item = &Json> {
        self.statements.iter().filter(|s| s["Effect"] == "Allow")
    }
}

fn list(value: &Json) -> Vec<String> {
    match value {
        Json::Null => Vec::new(),
        Json::Array(items) => items
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect(),
        Json::String(s) => vec![s.clone()],
        other => panic!("not a string or list: {other}"),
    }
}

fn statement_matches(statement: &Json, request: &Request) -> bool {
    let action = |patterns: Vec<String>| {
        patterns
            .iter()
            .any(|p| wildcard(&p.to_lowercase(), &request.action.to_lowercase()))
    };
    let resource = |patterns: Vec<String>| patterns.iter().any(|p| wildcard(p, &request.resource));
    let action_ok = match (&statement["Action"], &statement["NotAction"]) {
        (a, Json::Null) => action(list(a)),
        (Json::Null, not) => !action(list(not)),
        _ => panic!("Action and NotAction in one statement: {statement}"),
    };
    // Trust policies name principals, not resources.
    let resource_ok = match (&statement["Resource"], &statement["NotResource"]) {
        (Json::Null, Json::Null) => statement.get("Principal").is_some(),
        (r, Json::Null) => resource(list(r)),
        (Json::Null, not) => !resource(list(not)),
        _ => panic!("Resource and NotResource in one statement: {statement}"),
    };
    let principal_ok = match (&statement["Principal"], &request.principal) {
        (Json::Null, _) => true,
        (Json::String(star), _) if star == "*" => true,
        (principals, Some((kind, id))) => list(&principals[kind.as_str()])
            .iter()
            .any(|p| p == id || p == "*"),
        (_, None) => false,
    };
    action_ok && resource_ok && principal_ok && conditions_hold(&statement["Condition"], request)
}

fn conditions_hold(conditions: &Json, request: &Request) -> bool {
    let Some(operators) = conditions.as_object() else {
        return true;
    };
    operators.iter().all(|(operator, keys)| {
        keys.as_object().unwrap().iter().all(|(key, wanted)| {
            let Some(actual) = request.context.get(key) else {
                return false;
            };
            let wanted = list(wanted);
            match operator.as_str() {
                "StringEquals" | "ArnEquals" => wanted.iter().any(|w| w == actual),
                "StringLike" | "ArnLike" => wanted.iter().any(|w| wildcard(w, actual)),
                "Bool" => wanted.iter().any(|w| w.eq_ignore_ascii_case(actual)),
                other => panic!("the evaluator does not know the condition operator {other}"),
            }
        })
    })
}

/// IAM's wildcard match: `*` any run of characters, `?` one.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}
