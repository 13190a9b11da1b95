//! DynamoDB Local, the SES emulator and the Secrets Manager emulator (moto),
//! started once per test run on free
//! loopback ports and killed when the test process ends, however it ends.
//!
//! Every process a test starts goes through `spawn_kept`, which sets the
//! parent-death signal: when the test process exits (all tests done, a panic
//! aborting the run, or a kill), the kernel kills them.

use std::net::{SocketAddr, TcpListener, TcpStream};

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the emulators listen (a test may point an app's handlers elsewhere:
/// `TestApp::with_endpoints`).
#[derive(Clone)]
pub struct Emulators {
    pub dynamodb_endpoint: String,
    pub ses_endpoint: String,
    pub secretsmanager_endpoint: String,
}

/// The emulators of this test run, started by the first test that asks.
/// An endpoint nothing listens on: an outage of the service it stands for.
pub fn closed_port() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

pub fn emulators() -> &'static Emulators {
    static EMULATORS: OnceLock<Emulators> = OnceLock::new();
    EMULATORS.get_or_init(start_all)
}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Spawns `command` with the parent-death signal set, from a thread that
/// lives as long as the test process (the signal is tied to the spawning
/// thread, and test threads end with their test).
pub fn spawn_kept(command: Command) -> std::io::Result<Child> {
    static KEEPER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("process-keeper".into())
            .spawn(move || {
                for (mut command, reply) in receiver {
                    // SAFETY: prctl is async-signal-safe and touches only the child being set up.
                    unsafe {
                        command.pre_exec(|| {
                            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                                return Err(std::io::Error::last_os_error());
                            }
                            Ok(())
                        });
                    }
                    let _ = reply.send(command.spawn());
                }
                // The sender lives in a static, so the loop ends only with the process.
            })
            .expect("the process keeper thread starts");
        Mutex::new(sender)
    });
    let (reply, answer) = mpsc::channel();
    keeper
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .send((command, reply))
        .map_err(|_| std::io::Error::other("the process keeper thread is gone"))?;
    answer
        .recv()
        .map_err(|_| std::io::Error::other("the process keeper thread is gone"))?
}

fn start_all() -> Emulators {
    let logs = log_dir();
    let dynamodb_port = free_port();
    let dynamodb = spawn(
        emulator_command("dynamodb", dynamodb_port, &["-inMemory"]),
        "DynamoDB Local",
        &logs.join("dynamodb.log"),
    );
    let ses_port = free_port();
    let ses = spawn(
        emulator_command("ses", ses_port, &[]),
        "the SES emulator",
        &logs.join("ses.log"),
    );
    let secretsmanager_port = free_port();
    let secretsmanager = spawn(
        emulator_command("secretsmanager", secretsmanager_port, &[]),
        "the Secrets Manager emulator",
        &logs.join("secretsmanager.log"),
    );

    // Jetty accepts connections before DynamoDB Local can serve them: ready
    // means a ListTables call through the SDK succeeds.
    wait_until_ready(
        dynamodb,
        dynamodb_port,
        "DynamoDB Local",
        &logs.join("dynamodb.log"),
        |address| dynamodb_serves(&format!("http://{address}")),
    );
    wait_until_ready(
        ses,
        ses_port,
        "the SES emulator",
        &logs.join("ses.log"),
        |address| answers_200(&format!("http://{address}"), "/health-check"),
    );
    wait_until_listening(
        secretsmanager,
        secretsmanager_port,
        "the Secrets Manager emulator",
        &logs.join("secretsmanager.log"),
    );
    Emulators {
        dynamodb_endpoint: format!("http://127.0.0.1:{dynamodb_port}"),
        ses_endpoint: format!("http://127.0.0.1:{ses_port}"),
        secretsmanager_endpoint: format!("http://127.0.0.1:{secretsmanager_port}"),
    }
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The paths of the workspace's own libraries (`[workspace.dependencies]`
/// with a `path`), from the workspace root.
pub fn library_paths() -> Vec<String> {
    let root: toml::Table = workspace_file("Cargo.toml")
        .parse()
        .unwrap_or_else(|error| panic!("Cargo.toml: {error}"));
    root["workspace"]["dependencies"]
        .as_table()
        .expect("[workspace.dependencies]")
        .values()
        .filter_map(|spec| Some(spec.get("path")?.as_str()?.to_owned()))
        .collect()
}

/// The text of `file`, a path from the workspace root.
pub fn workspace_file(file: &str) -> String {
    std::fs::read_to_string(workspace().join(file))
        .unwrap_or_else(|error| panic!("{file}: {error}"))
}

/// Where the processes of a run write their output: `target/tmp/test-logs`.
pub fn log_dir() -> PathBuf {
    let logs = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-logs");
    std::fs::create_dir_all(&logs).expect("the test log folder can be created");
    logs
}

/// `tools/emulator.sh`, the one definition of how each emulator runs (the
/// local stack scripts use it too); it execs the emulator, so the spawned
/// process, which the parent-death signal is set on, is the emulator itself.
fn emulator_command(emulator: &str, port: u16, options: &[&str]) -> Command {
    let mut command = Command::new(workspace().join("tools/emulator.sh"));
    command.arg(emulator).arg(port.to_string()).args(options);
    command
}

pub fn require_installed(path: &Path, what: &str) {
    assert!(
        path.exists(),
        "{what} is not installed ({} is missing): run `make test`, which installs the project's tools",
        path.display()
    );
}

/// A port that was free a moment ago; the emulator binds it right after.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// Starts `command` with its output in `log`; whatever it needs and lacks
/// (the installed tools) it says in that log, which a failed start names.
pub fn spawn(mut command: Command, what: &str, log: &Path) -> Child {
    let log_file = std::fs::File::create(log).expect("the log file can be created");
    let stderr = log_file.try_clone().expect("the log file can be shared");
    command.stdin(Stdio::null()).stdout(log_file).stderr(stderr);
    spawn_kept(command).unwrap_or_else(|error| {
        panic!("could not start {what}: {error}; run `make test`, which installs what is missing")
    })
}

/// Whether a DynamoDB endpoint serves a `ListTables` call. On a thread and
/// runtime of its own: the first test to ask for the emulators may already
/// run inside a Tokio runtime, which cannot block on another.
fn dynamodb_serves(endpoint: &str) -> bool {
    let endpoint = endpoint.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(async {
            let client = aws_sdk_dynamodb::Client::new(&sdk_config(&endpoint).await);
            client.list_tables().send().await.ok()
        })
    })
    .join()
    .ok()
    .flatten()
    .is_some()
}

/// Whether `GET path` at `base` answers 200 (a refused connection is "no").
fn answers_200(base: &str, path: &str) -> bool {
    super::http_client::try_request("GET", base, path, &[], b"")
        .is_ok_and(|response| response.status == 200)
}

pub fn wait_until_listening(child: Child, port: u16, what: &str, log: &Path) {
    wait_until_ready(child, port, what, log, |address| {
        TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
    });
}

fn wait_until_ready(
    mut child: Child,
    port: u16,
    what: &str,
    log: &Path,
    ready: impl Fn(SocketAddr) -> bool,
) {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if ready(address) {
            // The child handle is dropped, not waited on: the process keeps
            // running until the test process exits.
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited ({status}) before listening on port {port}; see {}",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!(
        "{what} did not listen on port {port} within {READY_TIMEOUT:?}; see {}",
        log.display()
    );
}

/// The SDK configuration for one emulator endpoint, with dummy credentials
/// and the functions' own timeouts (1 s an attempt: outage tests rely on it).
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    configured(accounts::sdk::defaults(), endpoint).await
}

/// The same for the harness's own requests (tables, keys, scans): one
/// patient attempt. With the functions' 1 s attempts a CreateTable that a
/// busy DynamoDB Local finishes late is sent again, and the retry finds
/// the table it created.
pub async fn setup_sdk_config(endpoint: &str) -> SdkConfig {
    let loader = accounts::sdk::defaults()
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(60))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(1));
    configured(loader, endpoint).await
}

async fn configured(loader: aws_config::ConfigLoader, endpoint: &str) -> SdkConfig {
    loader
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "integration-tests",
        ))
        .load()
        .await
}
