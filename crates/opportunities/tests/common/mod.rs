//! Running the `opportunities` binary as an operator would.

#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

pub const BINARY: &str = env!("CARGO_BIN_EXE_opportunities");

pub struct Server {
    pub child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Server {
    pub async fn start(database: &str, bootstrap_token: Option<&str>) -> Server {
        Self::start_with(database, bootstrap_token, &[]).await
    }

    /// [`Server::start`] with more `serve` options.
    pub async fn start_with(database: &str, bootstrap_token: Option<&str>, options: &[&str]) -> Server {
        Self::spawn(serve_command(Command::new(BINARY), database, bootstrap_token, options))
    }

    /// Starts a command made by [`serve_command`].
    pub fn spawn(mut command: Command) -> Server {
        let mut child = command.spawn().expect("start the server");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Server { child, lines }
    }

    /// The next JSON line the server prints on stdout.
    pub async fn next_line(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(30), self.lines.next_line()).await;
        let line = line.expect("the server prints in time").expect("stdout").expect("a line");
        serde_json::from_str(&line).expect("stdout is JSON")
    }

    /// The address from the listening line, after whatever the start-up printed before it (the
    /// bootstrap's set-up link, the demo's report).
    pub async fn base_url(&mut self) -> String {
        loop {
            let line = self.next_line().await;
            if let Some(address) = line.get("listening").and_then(Value::as_str) {
                return format!("http://{address}");
            }
        }
    }

    /// SIGTERM, then waits for a clean exit.
    pub async fn terminate(&mut self) {
        let pid = self.child.id().expect("running").to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().await.expect("kill");
        assert!(status.success());
        let exit = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await.expect("stops in time").expect("exit");
        assert!(exit.success(), "graceful shutdown exits 0, got {exit}");
    }

    /// SIGKILL: the process dies at once, wherever it is (mid-request, mid-commit, mid-fsync),
    /// with no chance to flush or roll back anything; then waits until it is gone.
    pub async fn kill(&mut self) {
        use std::os::unix::process::ExitStatusExt;
        self.child.start_kill().expect("send SIGKILL");
        let exit = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await.expect("dies in time").expect("exit");
        assert_eq!(exit.signal(), Some(9), "killed by SIGKILL, got {exit}");
    }
}

/// `command` (the binary, or a program that ends by running the arguments it is given) with the
/// `serve` arguments and environment of a test server: any free port, stdout piped for
/// [`Server::next_line`], warnings and errors logged on stderr.
pub fn serve_command(mut command: Command, database: &str, bootstrap_token: Option<&str>, options: &[&str]) -> Command {
    command.args(["serve", "--listen", "127.0.0.1:0", "--database", database]).args(options).stdout(Stdio::piped()).kill_on_drop(true);
    command.env_remove("OPPORTUNITIES_BOOTSTRAP_TOKEN").env("RUST_LOG", "warn");
    if let Some(token) = bootstrap_token {
        command.env("OPPORTUNITIES_BOOTSTRAP_TOKEN", token);
    }
    command
}
