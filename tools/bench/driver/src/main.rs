//! `lambda-bench`: measures the release function binaries the way Lambda
//! runs them and writes BENCHMARKS.md. tools/bench.sh builds everything,
//! starts DynamoDB Local and the SES emulator, seeds fixtures, then runs this.
//!
//! For every function (and `hello-world`, the floor):
//! - cold start: `--cold` fresh processes, each timed from spawn to the
//!   complete first response;
//! - warm: one process, one untimed first invocation, then `--warm`
//!   invocations, each timed from the runtime API handing the event over to
//!   the response arriving, and the process's CPU time across them;
//! - peak RSS (VmHWM) of every process, the largest reported;
//!
//! and for login, the time of a refused login of a registered address
//! against that of an unknown one (`--timing` of each).
//!
//! Every response must have the route's success status (the refused logins
//! of the comparison: their 401): a benchmark of another path would measure
//! the wrong thing, so any other status stops the run.

mod process;
mod report;
mod runtime_api;
mod secret_read;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

use process::FunctionProcess;
use runtime_api::{Outcome, RuntimeApi};

const INVOCATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Where each invocation's varying part comes from.
#[derive(Clone, Copy)]
enum Input {
    /// The event as it is (the key documents take no input).
    Unchanged,
    /// A new address for every registration.
    NewEmail,
    /// Another user each time: a login of a user below the session cap.
    LoginEmail,
    UserToken,
    AdminToken,
    /// Fixture lists with one entry per invocation: each is used up.
    LogoutToken,
    ResetRequestEmail,
    ResetToken,
    DeleteToken,
    /// A fresh session's refresh token each time: every one advances.
    RefreshToken,
    /// Another of the caller's sessions each time.
    EndSession,
    VerificationRequestEmail,
    VerificationToken,
    EmailChangeToken,
    PasswordChangeToken,
    /// A wrong password for a registered address never refused before.
    WrongPasswordOfKnown,
    /// A wrong password for an address nobody registered.
    WrongPasswordOfUnknown,
}

pub struct Route {
    pub function: &'static str,
    event: &'static str,
    status: u64,
    input: Input,
    /// Whether the route answers after a fixed response floor (the reset
    /// request: 300 ms whatever happens). Its latency is that floor by
    /// design, so it gets `FLOOR_BOUND_WARM` warm invocations, not `--warm`:
    /// 500 of them would take 150 s to measure a constant.
    pub floor_bound: bool,
    /// The criterion benchmark of the one Argon2id operation the route makes.
    pub argon2: Option<&'static str>,
    /// Whether its cold start reads the signing-key secret.
    pub reads_secret: bool,
}

const ROUTES: [Route; 20] = [
    route(
        "register",
        "register.json",
        201,
        Input::NewEmail,
        Some(report::ARGON2_HASH),
    ),
    Route {
        reads_secret: true,
        ..route(
            "login",
            "login.json",
            200,
            Input::LoginEmail,
            Some(report::ARGON2_VERIFY),
        )
    },
    route("logout", "logout.json", 200, Input::LogoutToken, None),
    Route {
        reads_secret: true,
        ..route(
            "refresh-token",
            "refresh-token.json",
            200,
            Input::RefreshToken,
            None,
        )
    },
    // The admin has one session: the list of a typical user.
    route(
        "list-sessions",
        "list-sessions.json",
        200,
        Input::AdminToken,
        None,
    ),
    route(
        "end-session",
        "end-session.json",
        200,
        Input::EndSession,
        None,
    ),
    Route {
        floor_bound: true,
        ..route(
            "request-password-reset",
            "request-password-reset.json",
            200,
            Input::ResetRequestEmail,
            None,
        )
    },
    route(
        "reset-password",
        "reset-password.json",
        200,
        Input::ResetToken,
        Some(report::ARGON2_HASH),
    ),
    Route {
        floor_bound: true,
        ..route(
            "request-verification-email",
            "request-verification-email.json",
            200,
            Input::VerificationRequestEmail,
            None,
        )
    },
    route(
        "verify-email",
        "verify-email.json",
        200,
        Input::VerificationToken,
        None,
    ),
    route(
        "confirm-email-change",
        "confirm-email-change.json",
        200,
        Input::EmailChangeToken,
        None,
    ),
    // Two Argon2id operations: the current password's verify, the new
    // one's hash (the report allows for the larger, the hash, once).
    Route {
        reads_secret: true,
        ..route(
            "change-password",
            "change-password.json",
            200,
            Input::PasswordChangeToken,
            Some(report::ARGON2_HASH),
        )
    },
    route("get-user", "get-user.json", 200, Input::UserToken, None),
    route(
        "update-user",
        "update-user.json",
        200,
        Input::UserToken,
        None,
    ),
    route(
        "delete-user",
        "delete-user.json",
        200,
        Input::DeleteToken,
        None,
    ),
    route(
        "list-users",
        "list-users.json",
        200,
        Input::AdminToken,
        None,
    ),
    route(
        "well-known",
        "well-known-jwks.json",
        200,
        Input::Unchanged,
        None,
    ),
    route("pages", "pages.json", 200, Input::Unchanged, None),
    route(report::FLOOR, "get-user.json", 200, Input::UserToken, None),
    route(
        report::SDK_FLOOR,
        "get-user.json",
        200,
        Input::UserToken,
        None,
    ),
];

const fn route(
    function: &'static str,
    event: &'static str,
    status: u64,
    input: Input,
    argon2: Option<&'static str>,
) -> Route {
    Route {
        function,
        event,
        status,
        input,
        floor_bound: false,
        argon2,
        reads_secret: false,
    }
}

/// The refused logins whose times `measure_login_timing` compares.
const WRONG_PASSWORD_OF_KNOWN: Route = route(
    "login",
    "login.json",
    401,
    Input::WrongPasswordOfKnown,
    None,
);
const WRONG_PASSWORD_OF_UNKNOWN: Route = route(
    "login",
    "login.json",
    401,
    Input::WrongPasswordOfUnknown,
    None,
);

/// Warm invocations of a route with a fixed response floor.
pub const FLOOR_BOUND_WARM: usize = 50;

impl Route {
    pub fn warm_invocations(&self, requested: usize) -> usize {
        if self.floor_bound {
            requested.min(FLOOR_BOUND_WARM)
        } else {
            requested
        }
    }
}

pub struct Options {
    pub bins: PathBuf,
    pub zips_arm64: PathBuf,
    pub zips_x86_64: PathBuf,
    pub events: PathBuf,
    pub fixtures: PathBuf,
    pub criterion: PathBuf,
    pub template: PathBuf,
    pub logs: PathBuf,
    pub out: PathBuf,
    pub cold: usize,
    pub warm: usize,
    /// Refused logins of each kind that `measure_login_timing` compares.
    pub timing: usize,
    /// Measure only these functions, print, and write no report.
    pub only: Option<Vec<String>>,
}

/// Wrong-password logins, each address's first: registered, and unknown.
pub struct LoginTiming {
    pub known: Vec<Duration>,
    pub unknown: Vec<Duration>,
}

/// What was measured of one function.
pub struct Measured {
    pub cold: Vec<Duration>,
    pub warm: Vec<Duration>,
    pub cpu_per_warm_invocation: Duration,
    pub peak_rss_kib: u64,
}

fn main() -> ExitCode {
    let options = match parse_options(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(problem) => {
            eprintln!("lambda-bench: {problem}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("lambda-bench: {problem}");
            ExitCode::FAILURE
        }
    }
}

/// The functions of the template that `ROUTES` does not measure.
fn unmeasured(memory: &BTreeMap<String, u32>) -> Vec<&str> {
    memory
        .keys()
        .map(String::as_str)
        .filter(|function| ROUTES.iter().all(|route| route.function != *function))
        .collect()
}

fn run(options: &Options) -> Result<(), String> {
    let fixtures: Value = read_json(&options.fixtures)?;
    let memory = report::memory_sizes(&options.template)?;
    let missing = unmeasured(&memory);
    if !missing.is_empty() {
        return Err(format!(
            "template.yaml's {missing:?} have no route in tools/bench/driver/src/main.rs (ROUTES)"
        ));
    }
    let api = RuntimeApi::start().map_err(|e| format!("cannot start the runtime API: {e}"))?;
    std::fs::create_dir_all(&options.logs).map_err(|e| e.to_string())?;
    let mut results = BTreeMap::new();
    let selected = |route: &&Route| {
        options
            .only
            .as_ref()
            .is_none_or(|only| only.iter().any(|name| name == route.function))
    };
    for route in ROUTES.iter().filter(selected) {
        let template = std::fs::read_to_string(options.events.join(route.event))
            .map_err(|e| format!("{}: {e}", route.event))?;
        let inputs = Inputs {
            route,
            template: &template,
            fixtures: &fixtures,
        };
        let measured = measure(
            options,
            &api,
            route,
            &inputs,
            memory.get(route.function).copied(),
        )
        .map_err(|problem| format!("{}: {problem}", route.function))?;
        eprintln!(
            "{:<24} cold median {:>7.2} ms  warm median {:>7.3} ms  p99 {:>7.3} ms  cpu/inv {:>7.3} ms  rss {:>6} KiB",
            route.function,
            report::ms(report::median(&measured.cold)),
            report::ms(report::median(&measured.warm)),
            report::ms(report::percentile(&measured.warm, 99)),
            report::ms(measured.cpu_per_warm_invocation),
            measured.peak_rss_kib,
        );
        results.insert(route.function, measured);
    }
    let measure_timing = options
        .only
        .as_ref()
        .is_none_or(|only| only.iter().any(|name| name == "login"));
    let login_timing = if measure_timing {
        let timing = measure_login_timing(options, &api, &fixtures, memory.get("login").copied())
            .map_err(|problem| format!("login timing: {problem}"))?;
        eprintln!(
            "login refused, registered minus unknown address: median {:+.3} ms  p10 {:+.3} ms",
            report::difference_ms(&timing.known, &timing.unknown, 50),
            report::difference_ms(&timing.known, &timing.unknown, 10),
        );
        Some(timing)
    } else {
        None
    };
    let (None, Some(login_timing)) = (&options.only, login_timing) else {
        return Ok(());
    };
    let secret_read = secret_read::median()?;
    eprintln!(
        "one Secrets Manager read (median) {:.2} ms",
        report::ms(secret_read)
    );
    let markdown = report::markdown(
        options,
        &ROUTES,
        &results,
        &login_timing,
        &memory,
        secret_read,
    )?;
    std::fs::write(&options.out, markdown)
        .map_err(|e| format!("{}: {e}", options.out.display()))?;
    eprintln!("wrote {}", options.out.display());
    Ok(())
}

struct Inputs<'a> {
    route: &'a Route,
    template: &'a str,
    fixtures: &'a Value,
}

impl Inputs<'_> {
    /// The event of invocation `n`, from the route's file in events/.
    fn event(&self, n: usize) -> Result<Vec<u8>, String> {
        let fixture = |name: &str| -> Result<String, String> {
            self.fixtures[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("fixture {name} missing"))
        };
        let nth = |name: &str| -> Result<String, String> {
            self.fixtures[name][n]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("fixture {name}[{n}] missing: seed more"))
        };
        let fills = match self.route.input {
            Input::Unchanged => return Ok(self.template.as_bytes().to_vec()),
            Input::NewEmail => vec![(
                EVENT_EMAIL,
                format!("bench-{}-{n}@example.com", std::process::id()),
            )],
            Input::LoginEmail => vec![(EVENT_EMAIL, nth("login_emails")?)],
            Input::UserToken => vec![(ACCESS_TOKEN, fixture("user_token")?)],
            Input::AdminToken => vec![(ACCESS_TOKEN, fixture("admin_token")?)],
            Input::LogoutToken => vec![(ACCESS_TOKEN, nth("logout_tokens")?)],
            Input::ResetRequestEmail => vec![(EVENT_EMAIL, nth("reset_request_emails")?)],
            Input::ResetToken => vec![(RESET_TOKEN, nth("reset_tokens")?)],
            Input::DeleteToken => vec![(ACCESS_TOKEN, nth("delete_tokens")?)],
            Input::RefreshToken => vec![(REFRESH_TOKEN, nth("refresh_tokens")?)],
            Input::EndSession => vec![
                (ACCESS_TOKEN, fixture("sessions_token")?),
                (SESSION_ID, nth("session_ids")?),
            ],
            Input::VerificationRequestEmail => {
                vec![(EVENT_EMAIL, nth("verification_request_emails")?)]
            }
            Input::VerificationToken => vec![(VERIFICATION_TOKEN, nth("verification_tokens")?)],
            Input::EmailChangeToken => vec![(EMAIL_CHANGE_TOKEN, nth("email_change_tokens")?)],
            Input::PasswordChangeToken => vec![(ACCESS_TOKEN, nth("password_change_tokens")?)],
            Input::WrongPasswordOfKnown => vec![
                (EVENT_EMAIL, nth("timing_known_emails")?),
                (EVENT_PASSWORD, WRONG_PASSWORD.to_owned()),
            ],
            Input::WrongPasswordOfUnknown => vec![
                (EVENT_EMAIL, nth("timing_unknown_emails")?),
                (EVENT_PASSWORD, WRONG_PASSWORD.to_owned()),
            ],
        };
        let mut event = self.template.to_owned();
        for (placeholder, value) in fills {
            if !event.contains(placeholder) {
                return Err(format!("{} has no {placeholder}", self.route.event));
            }
            event = event.replace(placeholder, &value);
        }
        Ok(event.into_bytes())
    }
}

/// The placeholders of events/ (docs/local-development.md, "With Docker").
const EVENT_EMAIL: &str = "ada@example.com";
const EVENT_PASSWORD: &str = "correct horse battery staple";
const WRONG_PASSWORD: &str = "not the password at all";
const ACCESS_TOKEN: &str = "REPLACE_WITH_ACCESS_TOKEN";
const RESET_TOKEN: &str = "REPLACE_WITH_RESET_TOKEN";
const REFRESH_TOKEN: &str = "REPLACE_WITH_REFRESH_TOKEN";
const SESSION_ID: &str = "REPLACE_WITH_SESSION_ID";
const VERIFICATION_TOKEN: &str = "REPLACE_WITH_VERIFICATION_TOKEN";
const EMAIL_CHANGE_TOKEN: &str = "REPLACE_WITH_EMAIL_CHANGE_TOKEN";

fn measure(
    options: &Options,
    api: &RuntimeApi,
    route: &Route,
    inputs: &Inputs<'_>,
    memory_mb: Option<u32>,
) -> Result<Measured, String> {
    let bootstrap = options.bins.join(route.function).join("bootstrap");
    if !bootstrap.is_file() {
        return Err(format!(
            "no {}: build it first (make bench does)",
            bootstrap.display()
        ));
    }
    let log = File::create(options.logs.join(format!("{}.log", route.function)))
        .map_err(|e| e.to_string())?;
    let memory_mb = memory_mb.unwrap_or(128);
    let mut invocation = 0;
    let mut peak_rss_kib = 0;

    let mut cold = Vec::with_capacity(options.cold);
    for _ in 0..options.cold {
        let process = spawn_next(api, &bootstrap, route.function, memory_mb, &log)?;
        let outcome = invoke(api, route, inputs, invocation)?;
        invocation += 1;
        cold.push(outcome.received_at.duration_since(process.spawned_at));
        peak_rss_kib = peak_rss_kib.max(process.peak_rss_kib()?);
    }

    let mut process = spawn_next(api, &bootstrap, route.function, memory_mb, &log)?;
    invoke(api, route, inputs, invocation)?;
    invocation += 1;
    let cpu_before = process.cpu_time()?;
    let warm_invocations = route.warm_invocations(options.warm);
    let mut warm = Vec::with_capacity(warm_invocations);
    for _ in 0..warm_invocations {
        let outcome = invoke(api, route, inputs, invocation)?;
        invocation += 1;
        warm.push(outcome.received_at.duration_since(outcome.handed_at));
    }
    let cpu_after = process.cpu_time()?;
    if let Some(status) = process.exited() {
        return Err(format!("the warm process exited ({status})"));
    }
    peak_rss_kib = peak_rss_kib.max(process.peak_rss_kib()?);
    let warm_count = u32::try_from(warm_invocations.max(1)).map_err(|e| e.to_string())?;
    Ok(Measured {
        cold,
        warm,
        cpu_per_warm_invocation: cpu_after.saturating_sub(cpu_before) / warm_count,
        peak_rss_kib,
    })
}

/// One warm login process refusing `--timing` wrong passwords of
/// registered addresses and as many of unknown ones, interleaved (and
/// alternating which goes first) so that drift in the machine's speed
/// falls on both alike. Every address is refused once only, so both kinds
/// have the same failure history (none) and no lockout. The two paths
/// differ by what two DynamoDB reads return, well inside the noise of the
/// Argon2id verify both make: hence a thousand of each by default.
fn measure_login_timing(
    options: &Options,
    api: &RuntimeApi,
    fixtures: &Value,
    memory_mb: Option<u32>,
) -> Result<LoginTiming, String> {
    let bootstrap = options.bins.join("login").join("bootstrap");
    let template = std::fs::read_to_string(options.events.join("login.json"))
        .map_err(|e| format!("login.json: {e}"))?;
    let log = File::create(options.logs.join("login-timing.log")).map_err(|e| e.to_string())?;
    let known = Inputs {
        route: &WRONG_PASSWORD_OF_KNOWN,
        template: &template,
        fixtures,
    };
    let unknown = Inputs {
        route: &WRONG_PASSWORD_OF_UNKNOWN,
        ..known
    };
    let mut process = spawn_next(api, &bootstrap, "login", memory_mb.unwrap_or(128), &log)?;
    // Fixture 0 of each kind warms the process and its connections.
    let mut timing = LoginTiming {
        known: Vec::with_capacity(options.timing),
        unknown: Vec::with_capacity(options.timing),
    };
    for n in 0..=options.timing {
        let mut pair = [(&known, &mut timing.known), (&unknown, &mut timing.unknown)];
        if n % 2 == 1 {
            pair.reverse();
        }
        for (inputs, samples) in pair {
            let outcome = invoke(api, inputs.route, inputs, n)?;
            if n > 0 {
                samples.push(outcome.received_at.duration_since(outcome.handed_at));
            }
        }
    }
    if let Some(status) = process.exited() {
        return Err(format!("the login process exited ({status})"));
    }
    Ok(timing)
}

/// A new process of `bootstrap`, on the runtime API's next generation.
fn spawn_next(
    api: &RuntimeApi,
    bootstrap: &Path,
    function: &str,
    memory_mb: u32,
    log: &File,
) -> Result<FunctionProcess, String> {
    let runtime_api = api.next_generation();
    FunctionProcess::spawn(bootstrap, function, &runtime_api, memory_mb, log)
        .map_err(|e| format!("cannot spawn {}: {e}", bootstrap.display()))
}

fn invoke(
    api: &RuntimeApi,
    route: &Route,
    inputs: &Inputs<'_>,
    n: usize,
) -> Result<Outcome, String> {
    let event = inputs.event(n)?;
    let outcome = api.invoke(&format!("bench-{n}"), event, INVOCATION_TIMEOUT)?;
    let body = outcome
        .result
        .as_ref()
        .map_err(|error| format!("invocation {n} failed: {error}"))?;
    let response: Value = serde_json::from_slice(body)
        .map_err(|e| format!("invocation {n}: the response is not JSON: {e}"))?;
    let status = response["statusCode"].as_u64().unwrap_or_default();
    if status != route.status {
        // The error code only: bodies could one day echo what they were sent.
        let code = serde_json::from_str::<Value>(response["body"].as_str().unwrap_or("{}"))
            .ok()
            .and_then(|body| body["error"]["code"].as_str().map(str::to_owned))
            .unwrap_or_default();
        return Err(format!(
            "invocation {n} answered {status} {code}, expected {}",
            route.status
        ));
    }
    Ok(outcome)
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn parse_options(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut values = BTreeMap::new();
    while let Some(flag) = args.next() {
        let name = flag
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {flag}"))?
            .to_owned();
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        values.insert(name, value);
    }
    let mut take = |name: &str| {
        values
            .remove(name)
            .ok_or_else(|| format!("--{name} is required"))
    };
    let count = |text: String, name: &str| {
        text.parse::<usize>()
            .map_err(|_| format!("--{name} takes a count"))
    };
    let options = Options {
        bins: take("bins")?.into(),
        zips_arm64: take("zips-arm64")?.into(),
        zips_x86_64: take("zips-x86_64")?.into(),
        events: take("events")?.into(),
        fixtures: take("fixtures")?.into(),
        criterion: take("criterion")?.into(),
        template: take("template")?.into(),
        logs: take("logs")?.into(),
        out: take("out")?.into(),
        cold: count(take("cold")?, "cold")?,
        warm: count(take("warm")?, "warm")?,
        timing: count(take("timing")?, "timing")?,
        only: values
            .remove("only")
            .filter(|only| !only.is_empty())
            .map(|only| only.split(',').map(str::to_owned).collect()),
    };
    if let Some(unknown) = values.keys().next() {
        return Err(format!("unknown option --{unknown}"));
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_of_the_template_has_a_bench_route() {
        let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../template.yaml");
        let memory = report::memory_sizes(&template).expect("template.yaml");
        assert!(memory.contains_key("get-user"), "{memory:?}");
        let missing = unmeasured(&memory);
        assert!(
            missing.is_empty(),
            "template.yaml's {missing:?} have no route in the bench (tools/bench/driver/src/main.rs, ROUTES)"
        );
    }
}
