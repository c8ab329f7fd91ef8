//! bosun-core: pure, IO-free building blocks shared by the Bosun crates.
//!
//! * [`labels`]: label selectors (`?labelSelector=`, `metav1.LabelSelector`).
//! * [`fields`]: field selectors (`?fieldSelector=`).
//! * [`names`]: DNS-1123 / qualified-name / label-value checks with
//!   upstream's error messages.

pub mod fields;
pub mod labels;
pub mod names;
pub mod quantity;

pub use fields::{FieldOperator, FieldRequirement, FieldSelector, FieldSelectorError};
pub use labels::{from_label_selector, Operator, Requirement, Selector, SelectorError};
