//! Where the policy comes from: the policy file, with qemu-ga's block and
//! allow lists (command line and config file) layered over it. Loaded at
//! start and again on each SIGHUP; the lists are fixed at start.

use crate::cli::PolicyQuery;
use policy::{Policy, PolicyErrors, RpcLists};
use std::path::PathBuf;

pub struct PolicySource {
    pub path: PathBuf,
    pub rpc_lists: RpcLists,
}

impl PolicySource {
    /// For `--check-policy` and `--explain`: prints the config file's
    /// warnings, and returns the policy file's name as shown to the admin.
    pub fn for_query(query: PolicyQuery) -> (String, PolicySource) {
        for warning in &query.compat.warnings {
            eprintln!("{warning}");
        }
        let shown = query.policy.display().to_string();
        let source = PolicySource {
            path: query.policy,
            rpc_lists: query.compat.rpc_lists,
        };
        (shown, source)
    }

    pub fn load(&self) -> Result<Policy, PolicyErrors> {
        Policy::load(&self.path).map(|p| p.with_rpc_lists(self.rpc_lists.clone()))
    }
}

/// Logs what is valid but probably not meant: rules that never apply,
/// unknown names in the lists, and so on (the same as --check-policy).
pub fn log_warnings(policy: &Policy) {
    for d in policy.diagnostics() {
        tracing::warn!(diagnostic = %d, "policy warning");
    }
}
