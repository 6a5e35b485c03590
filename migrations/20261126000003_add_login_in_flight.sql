-- Count login attempts in flight separately from completed failures: parallel guesses are
-- still capped at the lockout threshold, but parallel *correct* logins no longer look like
-- failures and lock the account.
alter table auth.login_throttle
    add column in_flight        integer not null default 0,
    add column in_flight_since  timestamptz;
