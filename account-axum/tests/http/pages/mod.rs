//! The pages (feature `ui`) over plain HTTP, as a browser without JavaScript uses them:
//! every form posts, redirects (POST-redirect-GET) and shows its outcome, or shows the
//! refusal next to the form.

mod admin;
mod developer;
mod profile;
mod security;
mod signin;
