//! The `dingo` binary as a child process, its standard error collected line by line.

use std::io::BufRead;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A `dingo` command with no configuration from the test's own environment.
pub fn dingo() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dingo"));
    command
        .env_remove("DINGO_CONFIG")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    command
}

/// A free loopback port (bound, then released for the child process to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[derive(Default)]
struct Output {
    lines: Vec<String>,
    ended: bool,
}

/// A running child process; killed if the test ends early.
pub struct Process {
    child: Child,
    output: Arc<(Mutex<Output>, Condvar)>,
}

impl Process {
    /// Starts `command` and waits until a line of its standard error contains `ready`.
    pub fn start(mut command: Command, ready: &str) -> Self {
        let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let output = Arc::new((Mutex::new(Output::default()), Condvar::new()));
        let sink = output.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.0.lock().unwrap().lines.push(line);
                sink.1.notify_all();
            }
            sink.0.lock().unwrap().ended = true;
            sink.1.notify_all();
        });
        let process = Process { child, output };
        process.wait_for_line(ready);
        process
    }

    /// Blocks until a line containing `needle` has been written (at most 30 s); returns it.
    pub fn wait_for_line(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        let (lock, changed) = &*self.output;
        let mut output = lock.lock().unwrap();
        loop {
            if let Some(line) = output.lines.iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !output.ended && !left.is_zero(),
                "no line with {needle:?} in {:#?}",
                output.lines
            );
            output = changed.wait_timeout(output, left).unwrap().0;
        }
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name}");
    }

    /// Waits for the process to exit and returns its status and everything it wrote to
    /// standard error.
    pub fn wait(&mut self) -> (ExitStatus, Vec<String>) {
        let status = self.child.wait().unwrap();
        let (lock, changed) = &*self.output;
        let mut output = lock.lock().unwrap();
        while !output.ended {
            output = changed.wait(output).unwrap();
        }
        (status, output.lines.clone())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
