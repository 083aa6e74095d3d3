//! Who acts in a room: an identity taken from a verified token.

use crate::auth::Role;

/// The identity behind a request, taken from its verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    pub name: String,
    pub role: Role,
}

impl Actor {
    /// Does this actor rank above `role` (so may moderate its holder)?
    pub fn outranks(&self, role: Role) -> bool {
        self.role.rank() > role.rank()
    }
}
