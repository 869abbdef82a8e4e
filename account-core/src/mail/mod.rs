//! Mail: typed messages, plain-text rendering, and the mailers that send them.
