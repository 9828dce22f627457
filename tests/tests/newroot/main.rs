//! ns-pivot-root and ns-switch-root beside util-linux's pivot_root and
//! switch_root, 2.42.4 (the reference) and the host's 2.38.1, in
//! throwaway mount (and PID) namespaces: the same scripts run each of the
//! three by name, and what they print, their messages and their statuses
//! are compared. Nothing is done in the host's namespaces; every root,
//! every tmpfs and every mount lives in a namespace that ends with its
//! script, and the directories are removed when a test ends, failed or not.
//! Every switch_root, ours or a reference, runs in a [`sandbox`] whose
//! root is a tmpfs holding nothing writable of the host's.

mod flavours;
mod pivot;
mod runtime;
mod sandbox;
mod switch;
