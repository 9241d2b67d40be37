//! The handlers, one module per group of endpoints of docs/APP.md. Each checks who is calling
//! ([`crate::auth::Caller`]), validates the input into domain values, runs one
//! command or one query, and answers JSON; errors go to [`crate::error`].

pub mod bookings;
pub mod delegations;
pub mod documents;
pub mod meetings;
pub mod personal;
pub mod system;

/// A new random id (UUID v4) for a delegation or a booking.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `N` bytes from the operating system's generator.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], crate::error::AppError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| crate::error::AppError::Internal(format!("no randomness: {e}")))?;
    Ok(bytes)
}
