//! A TCP proxy in front of a server, which a test can cut and restore: while cut, every open
//! connection is dropped and new ones are refused, as when the server behind it stops.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

pub struct TcpProxy {
    pub address: SocketAddr,
    upstream: String,
    /// The accept loop and every connection it relays; aborting them all cuts the link.
    tasks: Arc<Mutex<JoinSet<()>>>,
    /// Connections accepted so far.
    accepted: Arc<AtomicU64>,
}

impl TcpProxy {
    /// Relays a fresh loopback port to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = TcpProxy {
            address: listener.local_addr().unwrap(),
            upstream: upstream.to_owned(),
            tasks: Arc::new(Mutex::new(JoinSet::new())),
            accepted: Arc::new(AtomicU64::new(0)),
        };
        proxy.serve(listener);
        proxy
    }

    /// How many connections it has accepted.
    pub fn connections(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Drops every connection and closes the port.
    pub fn cut(&self) {
        self.tasks.lock().unwrap().abort_all();
    }

    /// Accepts connections on the same port again (once the cut has closed it: aborted tasks
    /// drop their listener a moment later).
    pub async fn restore(&self) {
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.address).await {
                Ok(listener) => break listener,
                Err(_) if tries < 100 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                Err(e) => panic!("cannot listen on {} again: {e}", self.address),
            }
        };
        self.serve(listener);
    }

    fn serve(&self, listener: TcpListener) {
        let tasks = self.tasks.clone();
        let upstream = self.upstream.clone();
        let accepted = self.accepted.clone();
        self.tasks.lock().unwrap().spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let upstream = upstream.clone();
                tasks.lock().unwrap().spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
    }
}
