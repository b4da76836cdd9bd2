-- Login throttling per client address, across user names (app/login_throttle.py). Like
-- login_failures, operational state written directly, never rebuilt from the log; both count
-- the attempts of the open window that failed or are still being checked.
CREATE TABLE login_address_failures (
    address      text PRIMARY KEY,
    failures     integer NOT NULL,
    window_start double precision NOT NULL
);
