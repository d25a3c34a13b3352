//! Fresh ids for new objects: the current time and ten random bytes.

/// Calls an id constructor such as `MessageId::generate` with now and randomness.
pub fn fresh<T>(generate: impl FnOnce(u64, [u8; 10]) -> T) -> T {
    let millis = chrono::Utc::now().timestamp_millis().max(0) as u64;
    generate(millis, rand::random())
}
