//! The real function binaries behind `cargo lambda watch`, for black-box
//! tests: watch serves the Lambda runtime API and the `/v1/api/...` routes of
//! the workspace router (`--only-lambda-apis`), and each of the release
//! candidates (`target/debug/<function>`, built by `make test` before the
//! tests run) polls it as it would poll Lambda. Configuration reaches them
//! through the environment, exactly as on Lambda.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::OnceLock;

use accounts::Config;
use accounts::config::{
    ClientLimits, DEFAULT_ACCESS_TOKEN_TTL_SECONDS, DEFAULT_JWT_AUDIENCE, EmailVerification,
    SessionPolicy,
};
use accounts::keys::KeySet;

use super::keys::{install_run_key, session_secret_id};

use super::emulators::{
    emulators, free_port, log_dir, require_installed, setup_sdk_config, spawn,
    wait_until_listening, workspace,
};

pub struct Stack {
    /// `http://127.0.0.1:<port>`: the API, through the local gateway.
    pub base: String,
    /// cargo lambda watch's Lambda invoke endpoint (`cargo lambda invoke -P`).
    pub watch_port: u16,
    /// What the binaries are configured with (table, issuer, audience).
    pub config: Config,
    /// The secret with the signing key, and the key set that publishes it.
    pub secret_id: String,
    pub key_set: KeySet,
    /// Kept, not waited on: they run until the test process exits and the
    /// kernel kills them.
    _functions: Vec<Child>,
}

pub fn cargo_lambda() -> PathBuf {
    let path = workspace().join(".venv/bin/cargo-lambda");
    require_installed(&path, "cargo-lambda (tools/requirements.txt)");
    path
}

/// The stack of this test run, started by the first test that asks.
pub fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(start)
}

fn start() -> Stack {
    let emulators = emulators();
    let port = free_port();
    let config = Config {
        table_name: format!("e2e-{}", uuid::Uuid::new_v4().simple()),
        // The stack's own address: discovery and JWKS are served there.
        jwt_issuer: Some(format!("http://127.0.0.1:{port}")),
        jwt_audience: DEFAULT_JWT_AUDIENCE.to_owned(),
        access_token_ttl_seconds: DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
        sessions: SessionPolicy::default(),
        email_verification: EmailVerification::Required,
        client_limits: ClientLimits::default(),
    };
    let secret_id = format!("e2e-signing-keys-{}", uuid::Uuid::new_v4().simple());
    let key_set = create_table(&config.table_name, &secret_id);
    let logs = log_dir();
    // cargo lambda watch serves the runtime and invoke APIs on a port of
    // its own; the local gateway, on the stack's port, invokes through it.
    let watch_port = free_port();
    let runtime_api = format!("http://127.0.0.1:{watch_port}/.rt");

    let mut watch = Command::new(cargo_lambda());
    watch
        .current_dir(workspace())
        .args([
            "lambda",
            "watch",
            "--only-lambda-apis",
            "--ignore-changes",
            "-A",
            "127.0.0.1",
            "-P",
        ])
        .arg(watch_port.to_string())
        // Its own log stays at warnings (it logs environments at info).
        .env("RUST_LOG", "warn");
    let watch = spawn(watch, "cargo lambda watch", &logs.join("watch.log"));
    wait_until_listening(
        watch,
        watch_port,
        "cargo lambda watch",
        &logs.join("watch.log"),
    );
    let mut gateway = Command::new(workspace().join(".venv/bin/python"));
    gateway
        .current_dir(workspace())
        .arg("tools/local-gateway.py")
        .args(["--template", "template.yaml", "--port"])
        .arg(port.to_string())
        .arg("--invoke")
        .arg(format!("http://127.0.0.1:{watch_port}"));
    let gateway = spawn(gateway, "the local gateway", &logs.join("gateway.log"));
    wait_until_listening(
        gateway,
        port,
        "the local gateway",
        &logs.join("gateway.log"),
    );

    let binaries = workspace().join("target/debug");
    let mut functions = Vec::new();
    for function in crate::harness::template::function_names() {
        let function = function.as_str();
        let binary = binaries.join(function);
        assert!(
            binary.is_file(),
            "{} is missing: run `make test`, which builds the function binaries before the tests",
            binary.display()
        );
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("{runtime_api}/{function}"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function}"),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "e2e")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL_DYNAMODB", &emulators.dynamodb_endpoint)
            .env("AWS_ENDPOINT_URL_SES", &emulators.ses_endpoint)
            .env(
                "AWS_ENDPOINT_URL_SECRETS_MANAGER",
                &emulators.secretsmanager_endpoint,
            )
            .env("TABLE_NAME", &config.table_name)
            .env("SIGNING_KEYS_SECRET_ID", &secret_id)
            .env("SESSION_KEY_SECRET_ID", session_secret_id(&secret_id))
            .env(
                "JWT_ISSUER",
                config.jwt_issuer.as_deref().unwrap_or_default(),
            )
            .env("JWT_AUDIENCE", &config.jwt_audience)
            .env(
                "ACCESS_TOKEN_TTL_SECONDS",
                config.access_token_ttl_seconds.to_string(),
            )
            .env("SES_FROM_ADDRESS", "no-reply@example.com")
            .env("EMAIL_VERIFICATION", "required")
            .env("RUST_LOG", "info");
        functions.push(spawn(command, function, &function_log(function)));
    }
    Stack {
        base: format!("http://127.0.0.1:{port}"),
        watch_port,
        config,
        secret_id,
        key_set,
        _functions: functions,
    }
}

/// Where a function's stdout (its JSON log lines) goes.
pub fn function_log(function: &str) -> PathBuf {
    log_dir().join(format!("function-{function}.log"))
}

/// This runs once, inside whichever test's runtime asks first, which cannot
/// be blocked on: the table and the signing key are made on a thread and
/// runtime of their own (and the clients, whose connections belong to that
/// runtime, go with it).
fn create_table(table: &str, secret_id: &str) -> KeySet {
    let (table, secret_id) = (table.to_owned(), secret_id.to_owned());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for creating the table");
        runtime.block_on(async {
            let endpoint = &emulators().dynamodb_endpoint;
            let client = aws_sdk_dynamodb::Client::new(&setup_sdk_config(endpoint).await);
            accounts::store::schema::create_table(&client, &table)
                .await
                .unwrap_or_else(|error| {
                    panic!(
                        "creating the e2e table failed: {}",
                        accounts::error::cause_chain(error.as_ref())
                    )
                });
            let store = accounts::store::UserStore::new(client, &table);
            install_run_key(&store, &secret_id).await
        })
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
