//! The API's use cases: what a request does once it is parsed and authorized, apart
//! from shaping the answer. Route handlers are adapters over these (parse, authorize,
//! call, shape), and a use case two routes share lives here, not in either route.

pub mod accept;
pub mod applications;
pub mod deliveries;
pub mod tenants;
