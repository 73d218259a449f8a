//! # rat-cloud-aws
//!
//! AWS implementations of rat's traits.
//!
//! - [`StsCredentialVendor`]: short-lived credentials confined to one
//!   namespace's prefix by an inline session policy ([`session_policy`]).
//! - The ECS Fargate executor and CloudWatch log streaming come next.

mod policy;
mod sts;

pub use policy::{MAX_POLICY_CHARS, PolicyScope, session_policy};
pub use sts::{StsCredentialVendor, StsVendorConfig};
