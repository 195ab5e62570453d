//! Accounts: signup, login, tokens, email verification, password reset,
//! invitations for recruiters and organisers, and the admin's user list.

pub mod admin;
pub mod consent;
pub mod email_links;
pub mod invitations;
pub mod password;
pub mod routes;
pub mod service;
pub mod sessions;
pub mod types;
