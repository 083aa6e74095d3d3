//! Why a sale operation failed. One enum for both stores, each variant with a
//! stable wire code (the `error` event's `code`).

/// A refused or failed sale operation. Buy outcomes such as `sold_out` are not
/// errors (they are [`BuyOutcome`](super::BuyOutcome)s); these are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaleError {
    #[error("no such sale")]
    SaleNotFound,
    #[error("no such active hold")]
    HoldNotFound,
    #[error("the hold expired and its units went back on sale")]
    HoldExpired,
    #[error("invalid shipping details: {0}")]
    InvalidShipping(String),
    #[error("{0}")]
    InvalidValue(String),
    #[error("this hold belongs to someone else")]
    Forbidden,
    /// The room's current sale is scheduled, live or sold out: one sale runs
    /// in a room at a time.
    #[error("a flash sale is already running in this room: end it first")]
    SaleRunning,
    /// The store did not answer in time or is down; whether the request took
    /// effect is unknown. Every operation is safe to retry.
    #[error("the sale store is unavailable: {0}")]
    Unavailable(String),
    /// The store answered something this code does not understand (a bug or
    /// a corrupted record), as opposed to being unreachable.
    #[error("sale store error: {0}")]
    Internal(String),
}

impl SaleError {
    /// The stable code sent to clients.
    pub fn code(&self) -> &'static str {
        match self {
            SaleError::SaleNotFound => "sale_not_found",
            SaleError::HoldNotFound => "hold_not_found",
            SaleError::HoldExpired => "hold_expired",
            SaleError::InvalidShipping(_) => "invalid_shipping",
            SaleError::InvalidValue(_) => "invalid_value",
            SaleError::Forbidden => "forbidden",
            SaleError::SaleRunning => "invalid_state",
            SaleError::Unavailable(_) => "unavailable",
            SaleError::Internal(_) => "internal",
        }
    }
}

impl SaleError {
    /// The protocol's error code for this error.
    pub fn error_code(&self) -> crate::protocol::ErrorCode {
        use crate::protocol::ErrorCode;
        match self {
            SaleError::SaleNotFound => ErrorCode::SaleNotFound,
            SaleError::HoldNotFound => ErrorCode::HoldNotFound,
            SaleError::HoldExpired => ErrorCode::HoldExpired,
            SaleError::InvalidShipping(_) => ErrorCode::InvalidShipping,
            SaleError::InvalidValue(_) => ErrorCode::InvalidValue,
            SaleError::Forbidden => ErrorCode::Forbidden,
            SaleError::SaleRunning => ErrorCode::InvalidState,
            SaleError::Unavailable(_) => ErrorCode::Unavailable,
            SaleError::Internal(_) => ErrorCode::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_codes_match_the_protocol_codes() {
        for error in [
            SaleError::SaleNotFound,
            SaleError::HoldNotFound,
            SaleError::HoldExpired,
            SaleError::InvalidShipping(String::new()),
            SaleError::InvalidValue(String::new()),
            SaleError::Forbidden,
            SaleError::SaleRunning,
            SaleError::Unavailable(String::new()),
            SaleError::Internal(String::new()),
        ] {
            assert_eq!(error.code(), error.error_code().as_str());
        }
    }
}
