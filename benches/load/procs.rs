//! The processes under test: the DingTalk simulator and dingo (`dingo serve` with a generated
//! configuration), both the release binary, each in its own process; and what `/proc` says
//! about them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The release binary cargo built for this bench, or another build to compare with
/// (`DINGO_BENCH_DINGO=/path/to/dingo`).
pub fn dingo_binary() -> String {
    std::env::var("DINGO_BENCH_DINGO").unwrap_or_else(|_| env!("CARGO_BIN_EXE_dingo").to_owned())
}

/// Where the relying party's redirect URI points: nothing listens there, the bench reads the
/// redirect's `Location` instead.
pub const REDIRECT_URI: &str = "http://127.0.0.1:1/cb";
/// The one secret of both benchmark clients.
pub const CLIENT_SECRET: &str = "bench-client-secret-0123456789";
/// A confidential client whose ID tokens are RS256 (the default).
pub const RS_CLIENT: &str = "bench-rs";
/// The same, with `id_token_signed_response_alg = "ES256"`.
pub const ES_CLIENT: &str = "bench-es";
/// Who the simulator logs in, every time: 张三, in 平台组 under 研发部.
pub const PERSON: &str = "zhangsan";

/// A child process, killed when dropped.
pub struct Proc {
    child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the process: SIGTERM, then SIGKILL if it has not exited within `grace`.
    pub fn stop(mut self, grace: Duration) {
        let _ = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound, then released for the child to take).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn spawn(args: &[&str], log: &Path, env: &[(String, String)]) -> anyhow::Result<Child> {
    spawn_binary(&dingo_binary(), args, log, env)
}

fn spawn_binary(binary: &str, args: &[&str], log: &Path, env: &[(String, String)]) -> anyhow::Result<Child> {
    let stderr = std::fs::File::create(log)?;
    let mut command = Command::new(binary);
    command
        .args(args)
        .env_remove("DINGO_CONFIG")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    for (name, value) in env {
        command.env(name, value);
    }
    command.spawn().with_context(|| format!("cannot start {binary}"))
}

/// Polls `url` until it answers 200 (at most 60 s), or the process exits.
async fn wait_ready(http: &reqwest::Client, proc: &mut Proc, url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = http.get(url).send().await
            && response.status() == 200
        {
            return Ok(());
        }
        if let Ok(Some(status)) = proc.child.try_wait() {
            let log = std::fs::read_to_string(&proc.log).unwrap_or_default();
            bail!("dingo exited with {status} before {url} answered:\n{log}");
        }
        if Instant::now() > deadline {
            bail!("{url} did not answer within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `dingo sim --auto-login zhangsan` on a free port.
pub async fn start_sim(http: &reqwest::Client, dir: &Path) -> anyhow::Result<Proc> {
    start_sim_with(http, dir, &[]).await
}

/// The simulator with more flags (`--fault …`, `--seed …`, `--latency-ms …`). It is always this
/// build's, whichever dingo is measured, so that another build meets the same DingTalk.
pub async fn start_sim_with(http: &reqwest::Client, dir: &Path, flags: &[&str]) -> anyhow::Result<Proc> {
    std::fs::create_dir_all(dir)?;
    let port = free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let log = dir.join("sim.log");
    let mut args = vec!["sim", "--listen", &listen, "--auto-login", PERSON];
    args.extend_from_slice(flags);
    let child = spawn_binary(env!("CARGO_BIN_EXE_dingo"), &args, &log, &[])?;
    let mut proc = Proc {
        child,
        base: format!("http://{listen}"),
        log,
    };
    let probe = format!("{}/jsapi/dingtalk.open.js", proc.base);
    wait_ready(http, &mut proc, &probe).await?;
    Ok(proc)
}

/// `dingo serve` on a free port with a configuration written into `dir`: the simulator as
/// DingTalk, `database_url` as the database, the two benchmark clients, and the longest
/// authorization code lifetime allowed (the bench redeems codes it made a while before).
pub async fn start_dingo(
    http: &reqwest::Client,
    dir: &Path,
    sim: &str,
    database_url: &str,
    env: &[(String, String)],
) -> anyhow::Result<Proc> {
    std::fs::create_dir_all(dir)?;
    let port = free_port()?;
    let issuer = format!("http://127.0.0.1:{port}");
    let secret_hash = dingo::crypto::sha256_hex(CLIENT_SECRET);
    let client = |id: &str, alg: &str| {
        format!(
            r#"
[[clients]]
client_id = "{id}"
name = "Benchmark {alg}"
redirect_uris = ["{REDIRECT_URI}"]
scopes = ["openid", "profile", "email", "phone", "groups", "offline_access"]
secret_sha256 = "{secret_hash}"
id_token_signed_response_alg = "{alg}"
"#
        )
    };
    let config = format!(
        r#"
[server]
issuer = "{issuer}"
listen = "127.0.0.1:{port}"
[database]
url = "{database_url}"
[keys]
dir = {keys:?}
[dingtalk]
client_id = "dingsampleappkey"
client_secret = "sample-app-secret"
corp_id = "dingsampleorg"
login_base_url = "{sim}"
api_base_url = "{sim}"
oapi_base_url = "{sim}"
jsapi_url = "{sim}/jsapi/dingtalk.open.js"
# dingo's own throughput is measured, not its limits: real DingTalk allows 20 calls/s per API
# (which caps logins and refreshes far below these figures; the simulator enforces nothing), and
# all the load comes from one address, which the endpoint limits would cap at 100 req/s.
rate_limit_per_second = 0
[limits]
oauth_client_per_minute = 0
oauth_address_per_minute = 0
authorize_address_per_minute = 0
login_address_per_minute = 0
[tokens]
authorization_code_ttl = 600
{rs}{es}"#,
        keys = dir.join("keys").display().to_string(),
        rs = client(RS_CLIENT, "RS256"),
        es = client(ES_CLIENT, "ES256"),
    );
    let path = dir.join("dingo.toml");
    std::fs::write(&path, config)?;
    let config_arg = path.display().to_string();
    let log = dir.join("dingo.log");
    let child = spawn(&["serve", "--config", &config_arg], &log, env)?;
    let mut proc = Proc {
        child,
        base: issuer,
        log,
    };
    let ready = format!("{}/readyz", proc.base);
    wait_ready(http, &mut proc, &ready).await?;
    Ok(proc)
}

/// The configuration file `start_dingo` wrote into `dir`.
pub fn config_path(dir: &Path) -> PathBuf {
    dir.join("dingo.toml")
}

/// `dingo keys export --kid KID`: the private key as PKCS#8 PEM.
pub fn export_key(dir: &Path, kid: &str) -> anyhow::Result<String> {
    let output = Command::new(dingo_binary())
        .args(["keys", "export", "--kid", kid, "--config"])
        .arg(config_path(dir))
        .env_remove("DINGO_CONFIG")
        .stderr(Stdio::null())
        .output()?;
    if !output.status.success() {
        bail!("dingo keys export --kid {kid} failed: {}", output.status);
    }
    Ok(String::from_utf8(output.stdout)?)
}

/// Clock ticks per second, the unit of `/proc/<pid>/stat` times.
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// User plus system CPU time of process `pid` ("self" for this one), in clock ticks.
pub fn cpu_ticks(pid: &str) -> anyhow::Result<u64> {
    let (user, system) = cpu_split(pid)?;
    Ok(user + system)
}

/// User and system CPU time of process `pid`, apart, in clock ticks.
pub fn cpu_split(pid: &str) -> anyhow::Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces and parentheses; the fields after the last ')' do not.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok((utime, stime))
}

/// A `/proc/<pid>/status` memory line (`VmRSS`, `VmHWM`) in MB.
pub fn memory_mb(pid: u32, field: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .with_context(|| format!("no {field} for {pid}"))?;
    let kb: f64 = line[field.len() + 1..].trim().trim_end_matches("kB").trim().parse()?;
    Ok(kb / 1024.0)
}
