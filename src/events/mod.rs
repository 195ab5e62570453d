//! Campaigns, events, employers and positions. Employers come first: the
//! accounts feature binds recruiters to them.

pub mod employers;
