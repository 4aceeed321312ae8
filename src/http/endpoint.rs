//! One path and the methods it answers: `HEAD` like `GET` (RFC 9110 §9.3.2; actix sends no
//! body), any other method `405 Method Not Allowed` with `Allow` (§15.5.6).

use actix_web::http::header::ALLOW;
use actix_web::{FromRequest, Handler, HttpResponse, Resource, Responder, web};

pub struct Endpoint {
    resource: Resource,
    allow: Vec<&'static str>,
}

impl Endpoint {
    pub fn new(path: &str) -> Self {
        Self {
            resource: web::resource(path),
            allow: Vec::new(),
        }
    }

    /// Answers GET, and HEAD the same way.
    pub fn get<F, Args>(mut self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.resource = self
            .resource
            .route(web::get().to(handler.clone()))
            .route(web::head().to(handler));
        self.allow.extend(["GET", "HEAD"]);
        self
    }

    pub fn post<F, Args>(mut self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.resource = self.resource.route(web::post().to(handler));
        self.allow.push("POST");
        self
    }

    /// The resource, answering every other method with 405.
    pub fn done(self) -> Resource {
        let allow = self.allow.join(", ");
        self.resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move {
                HttpResponse::MethodNotAllowed()
                    .insert_header((ALLOW, allow))
                    .json(serde_json::json!({
                        "error": "invalid_request",
                        "error_description": "this method is not allowed here; see the Allow header",
                    }))
            }
        }))
    }
}
