//! A relying party's back-channel logout endpoint: records every logout token it receives.

use std::collections::VecDeque;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use tokio::sync::mpsc;

pub struct Receiver {
    pub uri: String,
    tokens: mpsc::UnboundedReceiver<String>,
    /// Statuses to answer with, in order; 200 once they run out.
    statuses: Arc<Mutex<VecDeque<u16>>>,
    server: actix_web::dev::ServerHandle,
}

struct Shared {
    sink: mpsc::UnboundedSender<String>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
}

async fn receive(
    shared: web::Data<Shared>,
    form: web::Form<std::collections::HashMap<String, String>>,
) -> HttpResponse {
    let status = shared.statuses.lock().unwrap().pop_front().unwrap_or(200);
    if let Some(token) = form.get("logout_token") {
        let _ = shared.sink.send(token.clone());
    }
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .insert_header(("cache-control", "no-store"))
        .finish()
}

impl Receiver {
    pub fn start() -> Self {
        let (sink, tokens) = mpsc::unbounded_channel();
        let statuses = Arc::new(Mutex::new(VecDeque::new()));
        let shared = web::Data::new(Shared {
            sink,
            statuses: statuses.clone(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let uri = format!("http://{}/backchannel-logout", listener.local_addr().unwrap());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .route("/backchannel-logout", web::post().to(receive))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            uri,
            tokens,
            statuses,
            server: handle,
        }
    }

    /// The next status codes to answer with.
    pub fn answer_with(&self, statuses: &[u16]) {
        self.statuses.lock().unwrap().extend(statuses);
    }

    /// The next logout token received, waiting up to `seconds`.
    pub async fn next_token(&mut self, seconds: u64) -> Option<String> {
        tokio::time::timeout(Duration::from_secs(seconds), self.tokens.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let handle = self.server.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}
