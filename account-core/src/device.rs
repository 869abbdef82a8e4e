//! Device details of a session, parsed from the user agent and client hints.
