//! The console over plain HTTP against the real platform (auth and agents composed with the
//! console, real Postgres and Redis): sign-in and sign-out, the cookie's flags, CSRF and
//! origin refusals, the security headers, and each page's content and actions.

mod admin_pages;
mod browser;
mod in_browser;
mod live;
mod pages;
mod schedules;
mod security;
