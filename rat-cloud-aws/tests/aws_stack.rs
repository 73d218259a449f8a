//! The AWS template (deploy/aws/rat-platform.yaml) read as IAM would: its
//! policy documents are resolved for a set of parameters and requests are
//! evaluated against them (tests/common/iam.rs), so "the runner can only
//! assume the vending role" is a decision, not a string found. The rest of
//! the production model that moto's CloudFormation does not keep (cluster
//! settings and capacity providers, bucket lifecycle, log encryption) is
//! checked on the template here; tests/deploy_aws.rs in rat-cli deploys it.
#![allow(clippy::unwrap_used)]

#[path = "common/iam.rs"]
mod iam;

use std::collections::BTreeSet;
use std::path::PathBuf;

use iam::{ACCOUNT, Policy, REGION, Request, Stack};
use serde_json::{Value as Json, json};

fn template() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/aws/rat-platform.yaml")
}

const SECRET: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rat";

fn parameters(auth: &str) -> Vec<(&'static str, String)> {
    let mut p = vec![
        ("VpcId", "vpc-1".to_owned()),
        ("PublicSubnets", "subnet-a,subnet-b".to_owned()),
        ("PrivateSubnets", "subnet-c,subnet-d".to_owned()),
        ("ServerImage", "rat:1".to_owned()),
        ("RunnerImage", "rat-runner:1".to_owned()),
        ("DomainName", "rat.example.com".to_owned()),
        (
            "CertificateArn",
            format!("arn:aws:acm:{REGION}:{ACCOUNT}:certificate/c"),
        ),
        ("LakeBucketName", "acme-lake".to_owned()),
        ("CatalogUri", "https://catalog.example.com".to_owned()),
        ("CatalogTokenSecretArn", format!("{SECRET}-catalog")),
        ("DatabaseSecretArn", format!("{SECRET}-database")),
        ("CiSubject", "repo:acme/lake:ref:refs/heads/main".to_owned()),
        ("AuthMode", auth.to_owned()),
    ];
    match auth {
        "api_key" => p.push(("ApiKeySecretArn", format!("{SECRET}-api-key"))),
        _ => {
            p.push(("OidcIssuer", "https://login.example.com".to_owned()));
            p.push(("OidcAudience", "rat".to_owned()));
        }
    }
    p
}

fn stack(auth: &str) -> Stack {
    let owned = parameters(auth);
    let borrowed: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Stack::load(&template(), &borrowed)
}

fn role_arn(stack: &Stack, logical: &str) -> String {
    stack.attribute(logical, "Arn")
}

/// Every action and resource ARN the template's policies name, plus
/// requests a compromised runner or server would try: what "nothing else"
/// is checked against.
fn probes(stack: &Stack) -> Vec<Request> {
    let mut actions: BTreeSet<String> = [
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "s3:DeleteBucket",
        "iam:PassRole",
        "iam:CreateRole",
        "iam:AttachRolePolicy",
        "sts:AssumeRole",
        "sts:AssumeRoleWithWebIdentity",
        "ecs:RunTask",
        "ecs:UpdateService",
        "ecs:RegisterTaskDefinition",
        "secretsmanager:GetSecretValue",
        "kms:Decrypt",
        "logs:GetLogEvents",
        "logs:DeleteLogGroup",
        "ssm:GetParameters",
        "ec2:DescribeInstances",
    ]
    .map(str::to_owned)
    .into();
    let mut resources: BTreeSet<String> = [
        "arn:aws:s3:::acme-lake/shop/orders.parquet",
        "arn:aws:s3:::acme-lake",
        "arn:aws:s3:::another-bucket/x",
        "arn:aws:iam::123456789012:role/admin",
        "arn:aws:iam::999999999999:role/rat-VendingRole",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:other",
        "arn:aws:ecs:eu-west-1:123456789012:task-definition/other:1",
        "*",
    ]
    .map(str::to_owned)
    .into();
    for role in stack.of_type("AWS::IAM::Role") {
        resources.insert(role_arn(stack, &role));
        for statement in stack.identity_policy(&role).statements {
            for key in ["Action", "Resource"] {
                let values: Vec<String> = match &statement[key] {
                    Json::Array(items) => {
                        items.iter().map(|v| v.as_str().unwrap().into()).collect()
                    }
                    Json::String(s) => vec![s.clone()],
                    _ => Vec::new(),
                };
                let set = if key == "Action" {
                    &mut actions
                } else {
                    &mut resources
                };
                // A pattern's own text is a request too: `...:task/c/*` stands for a task.
                set.extend(values);
            }
        }
    }
    let context = |r: Request| {
        r.with("ecs:cluster", &stack.attribute("Cluster", "Arn"))
            .with("iam:PassedToService", "ecs-tasks.amazonaws.com")
            .with("ecs:CreateAction", "RunTask")
    };
    actions
        .iter()
        .flat_map(|a| resources.iter().map(move |r| (a.clone(), r.clone())))
        .map(|(a, r)| context(Request::new(&a, &r)))
        .collect()
}

/// An Allow statement whose actions and resources are literal (no
/// wildcard, no Not*): then the probes above cover everything it allows.
fn literal(statement: &Json) -> bool {
    statement.get("NotAction").is_none()
        && statement.get("NotResource").is_none()
        && [&statement["Action"], &statement["Resource"]]
            .iter()
            .all(|v| !v.to_string().contains(['*', '?']))
}

#[test]
fn the_runner_task_role_can_do_nothing_but_assume_the_vending_role() {
    let stack = stack("api_key");
    let runner = stack.identity_policy("RunnerTaskRole");
    let vending = role_arn(&stack, "VendingRole");
    assert!(runner.allows(&Request::new("sts:AssumeRole", &vending)));
    for statement in runner.allows_statements() {
        assert!(
            literal(statement),
            "a runner statement with a wildcard: {statement}"
        );
    }
    let allowed: Vec<String> = probes(&stack)
        .into_iter()
        .filter(|r| runner.allows(r))
        .map(|r| format!("{} on {}", r.action, r.resource))
        .collect();
    assert_eq!(allowed, [format!("sts:AssumeRole on {vending}")]);
}

#[test]
fn the_server_role_passes_no_role_but_the_runner_s_and_only_to_ecs_tasks() {
    let stack = stack("api_key");
    let server = stack.identity_policy("ServerTaskRole");
    let pass = |role: &str, service: &str| {
        server.allows(&Request::new("iam:PassRole", role).with("iam:PassedToService", service))
    };
    let ecs = "ecs-tasks.amazonaws.com";
    for role in ["RunnerTaskRole", "ExecutionRole"] {
        assert!(pass(&role_arn(&stack, role), ecs), "{role}");
        assert!(
            !pass(&role_arn(&stack, role), "lambda.amazonaws.com"),
            "{role} to lambda"
        );
    }
    let mut others: Vec<String> = ["ServerTaskRole", "VendingRole", "CiRole"]
        .iter()
        .map(|r| role_arn(&stack, r))
        .collect();
    others.push("arn:aws:iam::123456789012:role/admin".into());
    others.push("*".into());
    for role in &others {
        assert!(!pass(role, ecs), "the server may pass {role}");
    }
    // Probing every resource: PassRole is granted on exactly two roles.
    let passable: BTreeSet<String> = probes(&stack)
        .into_iter()
        .filter(|r| r.action == "iam:PassRole" && server.allows(r))
        .map(|r| r.resource)
        .collect();
    assert_eq!(
        passable,
        BTreeSet::from([
            role_arn(&stack, "ExecutionRole"),
            role_arn(&stack, "RunnerTaskRole")
        ])
    );
}

#[test]
fn the_server_runs_tasks_on_its_cluster_and_reaches_the_lake_only_through_the_vending_role() {
    let stack = stack("api_key");
    let server = stack.identity_policy("ServerTaskRole");
    let cluster = stack.attribute("Cluster", "Arn");
    let runner_definition = stack.reference("RunnerTaskDefinition");
    let run = |definition: &str, cluster: &str| {
        server.allows(&Request::new("ecs:RunTask", definition).with("ecs:cluster", cluster))
    };
    assert!(run(&runner_definition, &cluster));
    assert!(!run(
        &runner_definition,
        &format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/other")
    ));
    assert!(
        !run(&stack.reference("ServerTaskDefinition"), &cluster),
        "the server's own definition"
    );
    let task = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/rat-rat/0123abcd");
    for action in ["ecs:DescribeTasks", "ecs:StopTask"] {
        assert!(server.allows(&Request::new(action, &task)), "{action}");
        assert!(
            !server.allows(&Request::new(action, &task.replace("rat-rat", "other"))),
            "{action}"
        );
    }
    assert!(
        server.allows(&Request::new("ecs:TagResource", &task).with("ecs:CreateAction", "RunTask"))
    );
    assert!(
        !server.allows(&Request::new("ecs:TagResource", &task)),
        "tagging outside RunTask"
    );
    let vending = role_arn(&stack, "VendingRole");
    let assumable: BTreeSet<String> = probes(&stack)
        .into_iter()
        .filter(|r| r.action.starts_with("sts:") && server.allows(r))
        .map(|r| format!("{} {}", r.action, r.resource))
        .collect();
    assert_eq!(
        assumable,
        BTreeSet::from([format!("sts:AssumeRole {vending}")])
    );
    let lake: Vec<String> = probes(&stack)
        .into_iter()
        .filter(|r| {
            (r.action.starts_with("s3:") || r.action.starts_with("kms:")) && server.allows(r)
        })
        .map(|r| format!("{} {}", r.action, r.resource))
        .collect();
    assert!(
        lake.is_empty(),
        "the server reaches the lake directly: {lake:?}"
    );
    let logs = format!(
        "arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/rat/rat/runs:log-stream:rat/rat-runner/1"
    );
    assert!(server.allows(&Request::new("logs:GetLogEvents", &logs)));
    assert!(!server.allows(&Request::new(
        "logs:GetLogEvents",
        &logs.replace("/runs", "/server")
    )));
}

#[test]
fn only_rat_s_task_roles_assume_the_vending_role_and_ci_only_as_its_subject() {
    let stack = stack("api_key");
    let trust = stack.trust_policy("VendingRole");
    let assume =
        |principal: &str| trust.allows(&Request::new("sts:AssumeRole", "").by("AWS", principal));
    assert!(assume(&role_arn(&stack, "ServerTaskRole")));
    assert!(assume(&role_arn(&stack, "RunnerTaskRole")));
    assert!(!assume(&role_arn(&stack, "CiRole")));
    assert!(!assume(&format!("arn:aws:iam::{ACCOUNT}:root")));

    // The vending role's own policy is the lake, and only the lake.
    let vending = stack.identity_policy("VendingRole");
    assert!(vending.allows(&Request::new(
        "s3:GetObject",
        "arn:aws:s3:::acme-lake/shop/x.parquet"
    )));
    assert!(!vending.allows(&Request::new(
        "s3:GetObject",
        "arn:aws:s3:::another-bucket/x"
    )));
    assert!(!vending.allows(&Request::new("s3:DeleteBucket", "arn:aws:s3:::acme-lake")));

    let ci = stack.trust_policy("CiRole");
    let provider = stack.reference("CiIdentityProvider");
    let host = "token.actions.githubusercontent.com";
    let token = |aud: &str, sub: &str| {
        Request::new("sts:AssumeRoleWithWebIdentity", "")
            .by("Federated", &provider)
            .with(&format!("{host}:aud"), aud)
            .with(&format!("{host}:sub"), sub)
    };
    let subject = "repo:acme/lake:ref:refs/heads/main";
    assert!(ci.allows(&token("sts.amazonaws.com", subject)));
    assert!(!ci.allows(&token("sts.amazonaws.com", "repo:acme/lake:pull_request")));
    assert!(!ci.allows(&token("another-audience", subject)));
    assert!(
        !ci.allows(
            &Request::new("sts:AssumeRoleWithWebIdentity", "")
                .by("Federated", "arn:aws:iam::1:oidc-provider/evil")
        )
    );
    for role in ["RunnerTaskRole", "ServerTaskRole", "ExecutionRole"] {
        let trust = stack.trust_policy(role);
        let ecs = Request::new("sts:AssumeRole", "").by("Service", "ecs-tasks.amazonaws.com");
        assert!(
            trust.allows(&ecs.clone().with("aws:SourceAccount", ACCOUNT)),
            "{role}"
        );
        assert!(
            !trust.allows(&ecs.with("aws:SourceAccount", "999999999999")),
            "{role}: confused deputy"
        );
    }
}

#[test]
fn the_execution_role_reads_only_the_secrets_its_auth_mode_names() {
    for auth in ["api_key", "oidc"] {
        let stack = stack(auth);
        let execution = stack.identity_policy("ExecutionRole");
        let read =
            |arn: &str| execution.allows(&Request::new("secretsmanager:GetSecretValue", arn));
        assert!(
            read(&format!("{SECRET}-catalog")) && read(&format!("{SECRET}-database")),
            "{auth}"
        );
        assert_eq!(
            read(&format!("{SECRET}-api-key")),
            auth == "api_key",
            "{auth}"
        );
        assert!(!read(&format!("{SECRET}-other")), "{auth}");
        assert!(!read("*"), "{auth}");
    }
}

fn properties(stack: &Stack, logical: &str) -> Json {
    stack.resolve(&stack.resource(logical)["Properties"])
}

#[test]
fn the_template_sets_the_production_model() {
    let stack = stack("api_key");
    let cluster = properties(&stack, "Cluster");
    assert_eq!(
        cluster["ClusterSettings"],
        json!([{"Name": "containerInsights", "Value": "enabled"}])
    );
    assert_eq!(
        cluster["CapacityProviders"],
        json!(["FARGATE", "FARGATE_SPOT"])
    );
    assert_eq!(
        cluster["DefaultCapacityProviderStrategy"][0],
        json!({"CapacityProvider": "FARGATE", "Base": 1, "Weight": 1})
    );

    let lake = properties(&stack, "LakeBucket");
    let rule = &lake["LifecycleConfiguration"]["Rules"][0];
    assert_eq!(
        rule["NoncurrentVersionTransitions"],
        json!([{"StorageClass": "STANDARD_IA", "TransitionInDays": 30}])
    );
    assert_eq!(
        rule["NoncurrentVersionExpiration"],
        json!({"NoncurrentDays": 90})
    );
    assert_eq!(
        rule["AbortIncompleteMultipartUpload"],
        json!({"DaysAfterInitiation": 7})
    );
    assert_eq!(lake["VersioningConfiguration"]["Status"], "Enabled");
    assert!(
        lake["PublicAccessBlockConfiguration"]
            .as_object()
            .unwrap()
            .values()
            .all(|v| v == true)
    );
    assert_eq!(
        lake["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
            ["SSEAlgorithm"],
        "aws:kms"
    );

    for group in stack.of_type("AWS::Logs::LogGroup") {
        let p = properties(&stack, &group);
        assert_eq!(p["RetentionInDays"], "365", "{group}");
        assert_eq!(p["KmsKeyId"], stack.attribute("Key", "Arn"), "{group}");
    }
    for definition in stack.of_type("AWS::ECS::TaskDefinition") {
        let p = properties(&stack, &definition);
        let container = &p["ContainerDefinitions"][0];
        assert_eq!(container["ReadonlyRootFilesystem"], true, "{definition}");
        assert_ne!(container["User"], "0", "{definition}");
        assert!(container["User"].is_string(), "{definition}: no user");
        assert!(
            container
                .get("Environment")
                .is_none_or(|env| !env.to_string().contains("PASSWORD")),
            "{definition}"
        );
        for secret in container["Secrets"].as_array().unwrap() {
            let from = secret["ValueFrom"].as_str().unwrap();
            assert!(
                from.starts_with("arn:aws:secretsmanager:") || from.starts_with("arn:aws:ssm:"),
                "{definition}: {from}"
            );
        }
    }
    for (definition, role) in [
        ("RunnerTaskDefinition", "RunnerTaskRole"),
        ("ServerTaskDefinition", "ServerTaskRole"),
    ] {
        let p = properties(&stack, definition);
        assert_eq!(p["TaskRoleArn"], role_arn(&stack, role), "{definition}");
        assert_eq!(
            p["ExecutionRoleArn"],
            role_arn(&stack, "ExecutionRole"),
            "{definition}"
        );
        assert_eq!(p["NetworkMode"], "awsvpc", "{definition}");
        assert_eq!(
            p["RequiresCompatibilities"],
            json!(["FARGATE"]),
            "{definition}"
        );
    }
    let listener = properties(&stack, "HttpRedirectListener");
    assert_eq!(listener["DefaultActions"][0]["Type"], "redirect");
}

#[test]
fn the_server_config_the_stack_writes_is_rat_s_config() {
    for auth in ["api_key", "oidc"] {
        let stack = stack(auth);
        let text = properties(&stack, "ServerConfig")["Value"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut tree: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        let server = tree.as_mapping_mut().unwrap().remove("server").unwrap();
        let lakehouse: rat_core::LakehouseConfig = serde_yaml_ng::from_value(tree).unwrap();
        let rat_core::config::StorageConfig::S3(s3) = &lakehouse.storage else {
            panic!("{text}")
        };
        assert_eq!(s3.bucket, "acme-lake");
        let vending = role_arn(&stack, "VendingRole");
        assert_eq!(
            s3.credentials,
            rat_core::config::CredentialsConfig::Process {
                command: [
                    "rat-aws-credentials",
                    "--role-arn",
                    &vending,
                    "--bucket",
                    "acme-lake",
                    "--whole-bucket",
                    "--kms-key-arn",
                    &stack.attribute("Key", "Arn")
                ]
                .map(str::to_owned)
                .to_vec()
            }
        );
        let mut executor = server["executor"].clone();
        let executor_map = executor.as_mapping_mut().unwrap();
        assert_eq!(executor_map.remove("type").unwrap(), "ecs");
        executor_map.remove("workers");
        let ecs: rat_cloud_aws::EcsConfig = serde_yaml_ng::from_value(executor).unwrap();
        assert_eq!(ecs.cluster, "rat-rat");
        assert_eq!(ecs.subnets, ["subnet-c", "subnet-d"]);
        assert_eq!(
            ecs.security_groups,
            [stack.reference("RunnerSecurityGroup")]
        );
        let mut vendor = server["credential_vendor"].clone();
        vendor.as_mapping_mut().unwrap().remove("type");
        let vendor: rat_cloud_aws::StsVendorConfig = serde_yaml_ng::from_value(vendor).unwrap();
        assert_eq!(vendor.role_arn, vending);
        assert_eq!(vendor.kms_key_arn, Some(stack.attribute("Key", "Arn")));
        let auth_type = server["auth"]["type"].as_str().unwrap();
        assert_eq!(auth_type, auth, "{text}");
    }
}

#[test]
fn auth_is_whole_or_the_stack_is_refused() {
    for auth in ["api_key", "oidc"] {
        assert!(stack(auth).broken_rules().is_empty(), "{auth}");
    }
    let without = |auth: &str, missing: &str| {
        let owned: Vec<(&str, String)> = parameters(auth)
            .into_iter()
            .filter(|(k, _)| *k != missing)
            .collect();
        let borrowed: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Stack::load(&template(), &borrowed).broken_rules()
    };
    assert_eq!(
        without("api_key", "ApiKeySecretArn"),
        ["AuthMode api_key needs ApiKeySecretArn"]
    );
    assert_eq!(
        without("oidc", "OidcAudience"),
        ["AuthMode oidc needs OidcIssuer and OidcAudience"]
    );
    assert_eq!(
        without("oidc", "OidcIssuer"),
        ["AuthMode oidc needs OidcIssuer and OidcAudience"]
    );
}

#[test]
fn the_evaluator_matches_as_iam_does() {
    assert!(iam::wildcard(
        "arn:aws:s3:::lake/*",
        "arn:aws:s3:::lake/a/b"
    ));
    assert!(!iam::wildcard("arn:aws:s3:::lake/*", "arn:aws:s3:::lake"));
    assert!(iam::wildcard("s3:Get*", "s3:GetObject"));
    assert!(iam::wildcard("ecs:?unTask", "ecs:RunTask"));
    let policy = Policy {
        statements: vec![
            json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),
            json!({"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::lake/*"}),
            json!({"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:sqs:*",
                   "Condition": {"StringEquals": {"aws:SourceAccount": "1"}}}),
        ],
    };
    assert!(policy.allows(&Request::new("S3:GETOBJECT", "arn:aws:s3:::lake/x")));
    assert!(
        !policy.allows(&Request::new("s3:DeleteObject", "arn:aws:s3:::lake/x")),
        "deny wins"
    );
    assert!(
        !policy.allows(&Request::new("sqs:SendMessage", "arn:aws:sqs:q")),
        "condition unmet"
    );
    assert!(
        policy.allows(
            &Request::new("sqs:SendMessage", "arn:aws:sqs:q").with("aws:SourceAccount", "1")
        )
    );
    assert!(
        !policy
            .allows(&Request::new("iam:PassRole", "arn:aws:sqs:q").with("aws:SourceAccount", "1"))
    );
}
