//! BENCHMARKS.md: the measurements, the criterion medians, each target of
//! issue #6 against its number, and an estimate of the cost per million
//! requests at the template's memory sizes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::{LoginTiming, Measured, Options, Route};

/// The `lambda_http` hello world every function is compared with.
pub const FLOOR: &str = "hello-world";
/// The hello world plus one DynamoDB call: the SDK's share.
pub const SDK_FLOOR: &str = "sdk-floor";

fn is_route(route: &&Route) -> bool {
    route.function != FLOOR && route.function != SDK_FLOOR
}
/// Criterion benchmark ids (group/function) of the Argon2id operations.
pub const ARGON2_HASH: &str = "argon2id/hash";
pub const ARGON2_VERIFY: &str = "argon2id/verify";

const MB: u64 = 1_000_000;
const TARGET_ZIP_BYTES: u64 = 3 * MB;
const TARGET_COLD: Duration = Duration::from_millis(15);
const TARGET_WARM_GET_USER: Duration = Duration::from_micros(1500);
const TARGET_CPU_RATIO: f64 = 2.0;
const TARGET_LOGIN_RATIO: f64 = 1.2;
/// Issue #26: a refused login of a registered address may take at most
/// this much longer (median) than one of an unknown address.
const TARGET_LOGIN_GAP_MS: f64 = 0.5;
const TARGET_RSS_KIB: u64 = 16 * 1024;
const TARGET_RSS_ARGON2_KIB: u64 = 40 * 1024;
/// Issue #13: a refresh reads, advances and signs, with no Argon2id.
const TARGET_WARM_REFRESH: Duration = Duration::from_millis(2);
/// Issue #12: what RS256 may add per request and per token.
const TARGET_JWT_VERIFY: Duration = Duration::from_micros(50);
const TARGET_JWT_ISSUE: Duration = Duration::from_millis(2);
pub const JWT_VERIFY: &str = "jwt/verify";
pub const JWT_ISSUE: &str = "jwt/issue";

/// Prices in us-east-1 as of November 2026 (aws.amazon.com/lambda/pricing,
/// aws.amazon.com/api-gateway/pricing): arm64 Lambda per GB-second and per
/// request, HTTP API per request (first 300 million a month).
const LAMBDA_ARM64_USD_PER_GB_SECOND: f64 = 0.000_013_333_4;
const LAMBDA_USD_PER_MILLION_REQUESTS: f64 = 0.20;
const HTTP_API_USD_PER_MILLION_REQUESTS: f64 = 1.00;
/// Lambda gives a function one full vCPU at 1,769 MB, proportionally less below.
const FULL_VCPU_MB: f64 = 1769.0;

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// `percent`th percentile of `a` minus that of `b`, in milliseconds.
pub fn difference_ms(a: &[Duration], b: &[Duration], percent: usize) -> f64 {
    ms(percentile(a, percent)) - ms(percentile(b, percent))
}

pub fn median(samples: &[Duration]) -> Duration {
    percentile(samples, 50)
}

/// Nearest-rank percentile.
pub fn percentile(samples: &[Duration], percent: usize) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn max(samples: &[Duration]) -> Duration {
    samples.iter().copied().max().unwrap_or_default()
}

/// `MemorySize` per function (by binary name) of template.yaml: the
/// Globals value unless the function sets its own.
pub fn memory_sizes(template: &Path) -> Result<BTreeMap<String, u32>, String> {
    let text =
        std::fs::read_to_string(template).map_err(|e| format!("{}: {e}", template.display()))?;
    let template: serde_norway::Value =
        serde_norway::from_str(&text).map_err(|e| format!("{}: {e}", template.display()))?;
    let size = |value: &serde_norway::Value| value.as_u64().and_then(|n| u32::try_from(n).ok());
    let default = size(&template["Globals"]["Function"]["MemorySize"])
        .ok_or("no MemorySize in the template's Globals")?;
    let resources = template["Resources"]
        .as_mapping()
        .ok_or("no Resources in the template")?;
    resources
        .values()
        .filter(|resource| resource["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|resource| {
            let binary = resource["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .ok_or("a function without Metadata.BuildProperties.Binary")?;
            let memory = size(&resource["Properties"]["MemorySize"]).unwrap_or(default);
            Ok((binary.to_owned(), memory))
        })
        .collect()
}

/// The floors are built for x86_64 only (they are baselines for what is
/// measured here): their arm64 cell says so.
fn arm64_cell(options: &Options, route: &Route) -> Result<String, String> {
    if is_route(&route) {
        Ok(format!(
            "{:.2} MB",
            zipped_bytes(&options.zips_arm64, route.function)? as f64 / MB as f64
        ))
    } else {
        Ok("-".to_owned())
    }
}

fn zipped_bytes(dir: &Path, function: &str) -> Result<u64, String> {
    let zip = dir.join(function).join("bootstrap.zip");
    std::fs::metadata(&zip)
        .map(|metadata| metadata.len())
        .map_err(|e| format!("{}: {e}", zip.display()))
}

/// Criterion's median estimate for `id` (group/function), if it ran.
fn criterion_median(dir: &Path, id: &str) -> Option<Duration> {
    let text = std::fs::read_to_string(dir.join(id).join("new/estimates.json")).ok()?;
    let estimates: Value = serde_json::from_str(&text).ok()?;
    let nanos = estimates["median"]["point_estimate"].as_f64()?;
    Some(Duration::from_secs_f64(nanos / 1e9))
}

/// Every group/function criterion wrote, sorted.
fn criterion_ids(dir: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    let Ok(groups) = std::fs::read_dir(dir) else {
        return ids;
    };
    for group in groups.flatten() {
        let Ok(functions) = std::fs::read_dir(group.path()) else {
            continue;
        };
        for function in functions.flatten() {
            if function.path().join("new/estimates.json").is_file() {
                ids.push(format!(
                    "{}/{}",
                    group.file_name().to_string_lossy(),
                    function.file_name().to_string_lossy()
                ));
            }
        }
    }
    ids.sort();
    ids
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown CPU", |(_, model)| model.trim())
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|meminfo| {
            meminfo
                .lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{model}, {cores} cores, {memory_gib:.0} GiB, Linux {}, {}",
        kernel.trim(),
        command_output("rustc", &["-V"])
    )
}

fn mark(met: bool) -> &'static str {
    if met { "yes" } else { "**no**" }
}

/// Estimated billed milliseconds on Lambda: the local warm median, with the
/// CPU part stretched by the vCPU share the memory size buys.
fn billed_ms(measured: &Measured, memory_mb: u32) -> f64 {
    let cpu = ms(measured.cpu_per_warm_invocation);
    let share = (f64::from(memory_mb) / FULL_VCPU_MB).min(1.0);
    (ms(median(&measured.warm)) + cpu * (1.0 / share - 1.0)).ceil()
}

pub fn markdown(
    options: &Options,
    routes: &[Route],
    results: &BTreeMap<&str, Measured>,
    login_timing: &LoginTiming,
    memory: &BTreeMap<String, u32>,
    secret_read: Duration,
) -> Result<String, String> {
    let get = |function: &str| {
        results
            .get(function)
            .ok_or_else(|| format!("{function} was not measured"))
    };
    let floor = get(FLOOR)?;
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `make bench` on {} (see docs/performance.md for what each number means). Do not edit by hand.\n",
        command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
    );
    let _ = writeln!(out, "- Machine: {}.", machine());
    let _ = writeln!(
        out,
        "- Release builds (`cargo lambda build --release`, the functions in one cargo run per architecture, as `make package` builds them for `sam build`). \
         Sizes are of the zipped `bootstrap`; every other number is of the x86_64 binaries run here, \
         through a Lambda Runtime API on 127.0.0.1 (tools/bench/driver), against DynamoDB Local, \
         the SES emulator and the Secrets Manager emulator (moto) on 127.0.0.1, with each route's event from `events/`."
    );
    let _ = writeln!(
        out,
        "- Cold start: spawn to complete first response, {} processes. Warm: {} invocations in one \
         process after a first one ({} for request-password-reset, which answers after a fixed \
         300 ms floor), each from event handed over to response received; CPU is the \
         process's user + system time over those invocations, divided by their number. Peak RSS: the \
         largest VmHWM of any of the function's processes. The floors ({FLOOR}, {SDK_FLOOR}) are \
         built for x86_64 only.\n",
        options.cold,
        options.warm,
        options.warm.min(crate::FLOOR_BOUND_WARM)
    );

    let _ = writeln!(out, "## Functions\n");
    let _ = writeln!(
        out,
        "| Function | Zipped arm64 | Zipped x86_64 | Cold median | Cold max | Warm median | Warm p99 | CPU / warm invocation | Peak RSS | MemorySize |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for route in routes {
        let measured = get(route.function)?;
        let memory_cell = memory
            .get(route.function)
            .map_or("-".to_owned(), |mb| format!("{mb} MB"));
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} MB | {:.1} ms | {:.1} ms | {:.3} ms | {:.3} ms | {:.3} ms | {:.1} MiB | {} |",
            route.function,
            arm64_cell(options, route)?,
            zipped_bytes(&options.zips_x86_64, route.function)? as f64 / MB as f64,
            ms(median(&measured.cold)),
            ms(max(&measured.cold)),
            ms(median(&measured.warm)),
            ms(percentile(&measured.warm, 99)),
            ms(measured.cpu_per_warm_invocation),
            measured.peak_rss_kib as f64 / 1024.0,
            memory_cell,
        );
    }

    let _ = writeln!(
        out,
        "\n## Micro-benchmarks (criterion, `shared/http-api/benches`)\n"
    );
    let _ = writeln!(out, "| Benchmark | Median |");
    let _ = writeln!(out, "|---|---:|");
    for id in criterion_ids(&options.criterion) {
        if let Some(median) = criterion_median(&options.criterion, &id) {
            let _ = writeln!(out, "| {id} | {} |", human(median));
        }
    }

    let _ = writeln!(out, "\n## Targets (issues #6, #12, #13 and #26)\n");
    let _ = writeln!(out, "| Target | Measured | Met |");
    let _ = writeln!(out, "|---|---|---|");
    let hash = criterion_median(&options.criterion, ARGON2_HASH);
    let verify = criterion_median(&options.criterion, ARGON2_VERIFY);
    for route in routes.iter().filter(is_route) {
        let measured = get(route.function)?;
        let bytes = zipped_bytes(&options.zips_arm64, route.function)?;
        let _ = writeln!(
            out,
            "| {} zipped arm64 <= 3 MB | {:.2} MB | {} |",
            route.function,
            bytes as f64 / MB as f64,
            mark(bytes <= TARGET_ZIP_BYTES)
        );
        let argon2 = match route.argon2 {
            Some(id) => Some(criterion_median(&options.criterion, id).ok_or_else(|| {
                format!("no criterion result for {id}: run the micro-benchmarks first")
            })?),
            None => None,
        };
        let secret = if route.reads_secret {
            secret_read
        } else {
            Duration::ZERO
        };
        let cold_limit = TARGET_COLD + argon2.unwrap_or_default() + secret;
        let cold = median(&measured.cold);
        let _ = writeln!(
            out,
            "| {} cold start <= 15 ms{}{} | {:.1} ms (limit {:.1} ms) | {} |",
            route.function,
            if argon2.is_some() {
                " + one Argon2id operation"
            } else {
                ""
            },
            if route.reads_secret {
                " + one Secrets Manager read"
            } else {
                ""
            },
            ms(cold),
            ms(cold_limit),
            mark(cold <= cold_limit)
        );
        let rss_limit = if argon2.is_some() {
            TARGET_RSS_ARGON2_KIB
        } else {
            TARGET_RSS_KIB
        };
        let _ = writeln!(
            out,
            "| {} peak RSS <= {} MiB | {:.1} MiB | {} |",
            route.function,
            rss_limit / 1024,
            measured.peak_rss_kib as f64 / 1024.0,
            mark(measured.peak_rss_kib <= rss_limit)
        );
    }
    for (id, what, limit) in [
        (JWT_VERIFY, "RS256 verify, key set held", TARGET_JWT_VERIFY),
        (JWT_ISSUE, "RS256 sign", TARGET_JWT_ISSUE),
    ] {
        let measured = criterion_median(&options.criterion, id)
            .ok_or_else(|| format!("no criterion result for {id}"))?;
        let _ = writeln!(
            out,
            "| {what} <= {} | {} | {} |",
            human(limit),
            human(measured),
            mark(measured <= limit)
        );
    }
    let get_user = get("get-user")?;
    let warm = median(&get_user.warm);
    let _ = writeln!(
        out,
        "| get-user warm median <= 1.5 ms | {:.3} ms | {} |",
        ms(warm),
        mark(warm <= TARGET_WARM_GET_USER)
    );
    let ratio = get_user.cpu_per_warm_invocation.as_secs_f64()
        / floor
            .cpu_per_warm_invocation
            .as_secs_f64()
            .max(f64::MIN_POSITIVE);
    let sdk_floor = get(SDK_FLOOR)?;
    let _ = writeln!(
        out,
        "| get-user CPU per warm invocation <= 2 x {FLOOR} | {:.3} ms vs {:.3} ms = {ratio:.2} x ({SDK_FLOOR}, one DynamoDB call: {:.3} ms = {:.2} x) | {} |",
        ms(get_user.cpu_per_warm_invocation),
        ms(floor.cpu_per_warm_invocation),
        ms(sdk_floor.cpu_per_warm_invocation),
        sdk_floor.cpu_per_warm_invocation.as_secs_f64()
            / floor
                .cpu_per_warm_invocation
                .as_secs_f64()
                .max(f64::MIN_POSITIVE),
        mark(ratio <= TARGET_CPU_RATIO)
    );
    let refresh = median(&get("refresh-token")?.warm);
    let _ = writeln!(
        out,
        "| refresh-token warm median <= 2 ms | {:.3} ms | {} |",
        ms(refresh),
        mark(refresh <= TARGET_WARM_REFRESH)
    );
    if let Some(verify) = verify {
        let login = median(&get("login")?.warm);
        let ratio = login.as_secs_f64() / verify.as_secs_f64();
        let _ = writeln!(
            out,
            "| login warm median <= 1.2 x one Argon2id verify | {:.2} ms vs {:.2} ms = {ratio:.2} x | {} |",
            ms(login),
            ms(verify),
            mark(ratio <= TARGET_LOGIN_RATIO)
        );
    }
    let login_gap = difference_ms(&login_timing.known, &login_timing.unknown, 50);
    let _ = writeln!(
        out,
        "| login refused, registered minus unknown address, median < 0.5 ms | {login_gap:+.3} ms | {} |",
        mark(login_gap.abs() < TARGET_LOGIN_GAP_MS)
    );
    if let Some(hash) = hash {
        let _ = writeln!(out, "\nOne Argon2id hash: {}.", human(hash));
    }
    let _ = writeln!(
        out,
        "One Secrets Manager read (GetSecretValue of the signing-key secret on a new connection to the emulator, median of 20): {}.",
        human(secret_read)
    );

    let _ = writeln!(out, "\n## Login: registered or unknown address\n");
    let _ = writeln!(
        out,
        "One warm login process, {} wrong-password logins of registered addresses and {} of \
         addresses nobody registered, interleaved; every address refused once, so neither kind \
         has a failure history. A difference here would tell an attacker which addresses have \
         an account.\n",
        login_timing.known.len(),
        login_timing.unknown.len()
    );
    let _ = writeln!(
        out,
        "| Percentile | Registered | Unknown | Registered minus unknown |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for (name, percent) in [("p10", 10), ("median", 50), ("p90", 90)] {
        let _ = writeln!(
            out,
            "| {name} | {:.3} ms | {:.3} ms | {:+.3} ms |",
            ms(percentile(&login_timing.known, percent)),
            ms(percentile(&login_timing.unknown, percent)),
            difference_ms(&login_timing.known, &login_timing.unknown, percent)
        );
    }

    let _ = writeln!(out, "\n## Estimated cost per million requests\n");
    let _ = writeln!(
        out,
        "arm64 Lambda at ${LAMBDA_ARM64_USD_PER_GB_SECOND} per GB-second and \
         ${LAMBDA_USD_PER_MILLION_REQUESTS:.2} per million requests, HTTP API at \
         ${HTTP_API_USD_PER_MILLION_REQUESTS:.2} per million (us-east-1, November 2026, no free tier). \
         Billed time is estimated as the warm median measured here plus the CPU time stretched by the \
         share of a vCPU the memory size buys (a full one at 1,769 MB), rounded up to the millisecond; \
         network latency to the real DynamoDB is not in it.\n"
    );
    let _ = writeln!(
        out,
        "| Function | MemorySize | Estimated billed time | Lambda | Lambda + HTTP API |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    for route in routes.iter().filter(is_route) {
        let measured = get(route.function)?;
        let memory_mb = memory
            .get(route.function)
            .copied()
            .ok_or_else(|| format!("{} is not in the template", route.function))?;
        let billed = billed_ms(measured, memory_mb);
        let lambda =
            f64::from(memory_mb) / 1024.0 * billed / 1000.0 * 1e6 * LAMBDA_ARM64_USD_PER_GB_SECOND
                + LAMBDA_USD_PER_MILLION_REQUESTS;
        let _ = writeln!(
            out,
            "| {} | {memory_mb} MB | {billed:.0} ms | ${lambda:.2} | ${:.2} |",
            route.function,
            lambda + HTTP_API_USD_PER_MILLION_REQUESTS
        );
    }
    Ok(out)
}

fn human(duration: Duration) -> String {
    let nanos = duration.as_secs_f64() * 1e9;
    if nanos >= 1e6 {
        format!("{:.2} ms", nanos / 1e6)
    } else if nanos >= 1e3 {
        format!("{:.2} µs", nanos / 1e3)
    } else {
        format!("{nanos:.0} ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 50), Duration::from_millis(50));
        assert_eq!(percentile(&samples, 99), Duration::from_millis(99));
        assert_eq!(median(&samples[..3]), Duration::from_millis(2));
        assert_eq!(percentile(&[], 99), Duration::ZERO);
    }

    #[test]
    fn memory_sizes_come_from_the_template() {
        let sizes = memory_sizes(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../template.yaml"
        )))
        .unwrap();
        // login sets its own; get-user has the Globals value.
        assert_eq!(sizes.get("login"), Some(&1024), "{sizes:?}");
        assert_eq!(sizes.get("get-user"), Some(&128), "{sizes:?}");
        assert!(sizes.values().all(|mb| *mb >= 128), "{sizes:?}");
    }
}
