//! The HTTP layer: the actix-web application and its server.

mod server;

pub use server::{ServeError, serve};
