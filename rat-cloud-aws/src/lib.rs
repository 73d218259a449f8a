//! # rat-cloud-aws
//!
//! AWS implementations of rat's traits: an STS credential vendor (namespace-
//! scoped session policies) and an ECS Fargate executor with CloudWatch log
//! streaming.
//!
//! Nothing is implemented here yet; the AWS issue fills this crate.
