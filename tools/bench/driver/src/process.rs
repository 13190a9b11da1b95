//! One function process: spawned as Lambda would (bootstrap, the runtime's
//! environment, output to a log), observed through /proc and its CPU clock.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct FunctionProcess {
    child: Child,
    pub spawned_at: Instant,
}

impl FunctionProcess {
    pub fn spawn(
        bootstrap: &Path,
        function_name: &str,
        runtime_api: &str,
        memory_mb: u32,
        log: &File,
    ) -> std::io::Result<Self> {
        let mut command = Command::new(bootstrap);
        command
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string())
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function_name}"),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log.try_clone()?);
        let spawned_at = Instant::now();
        let child = command.spawn()?;
        Ok(Self { child, spawned_at })
    }

    /// The process's CPU time so far, all threads, user and system.
    pub fn cpu_time(&self) -> Result<Duration, String> {
        let pid = libc::pid_t::try_from(self.child.id()).map_err(|e| e.to_string())?;
        let mut clock: libc::clockid_t = 0;
        // SAFETY: `clock` is a valid out-pointer for the duration of the call.
        if unsafe { libc::clock_getcpuclockid(pid, &mut clock) } != 0 {
            return Err(format!("no CPU clock for process {pid}"));
        }
        let mut time = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `time` is a valid out-pointer for the duration of the call.
        if unsafe { libc::clock_gettime(clock, &mut time) } != 0 {
            return Err(format!("cannot read the CPU clock of process {pid}"));
        }
        let seconds = u64::try_from(time.tv_sec).map_err(|e| e.to_string())?;
        let nanos = u32::try_from(time.tv_nsec).map_err(|e| e.to_string())?;
        Ok(Duration::new(seconds, nanos))
    }

    /// Peak resident set size so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> Result<u64, String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .map_err(|e| e.to_string())?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| "no VmHWM in /proc/PID/status".to_owned())
    }

    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
